"""Tool statuses (available, out, in repair, lost): the enum and its one transition table."""

from __future__ import annotations

from core.states import State, StateMachine
from core.texts import N_


class ToolStatus(State):
    AVAILABLE = "available"
    OUT = "out"  # lent to a worker (an open loan)
    REPAIR = "repair"  # returned damaged: nobody takes it until the crib marks it repaired
    LOST = "lost"  # written off at return


AVAILABLE, OUT, REPAIR, LOST = ToolStatus.AVAILABLE, ToolStatus.OUT, ToolStatus.REPAIR, ToolStatus.LOST

# from-status → {to-status: the action that performs it}
TOOL: StateMachine[ToolStatus] = StateMachine(
    N_("tool"),
    ToolStatus,
    {
        AVAILABLE: {OUT: "checkout"},
        OUT: {AVAILABLE: "return_tool", REPAIR: "return_tool", LOST: "return_tool"},
        REPAIR: {AVAILABLE: "repaired"},
        LOST: {},
    },
    labels={OUT: "Checked out", REPAIR: "In repair"},
    tones={AVAILABLE: "good", OUT: "info", REPAIR: "warn", LOST: "bad"},
)
