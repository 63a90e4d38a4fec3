"""Dispense statuses: the enum and its one transition table (the database stores the same strings)."""

from __future__ import annotations

from core.states import State, StateMachine
from core.texts import N_


class DispenseStatus(State):
    REQUESTED = "requested"
    AUTHORISED = "authorised"
    COMMANDED = "commanded"
    SENSED = "sensed"
    COMPLETED = "completed"
    REFUSED = "refused"
    FAILED = "failed"


REQUESTED, AUTHORISED, COMMANDED = DispenseStatus.REQUESTED, DispenseStatus.AUTHORISED, DispenseStatus.COMMANDED
SENSED, COMPLETED = DispenseStatus.SENSED, DispenseStatus.COMPLETED
REFUSED, FAILED = DispenseStatus.REFUSED, DispenseStatus.FAILED

# from-status → {to-status: the step that performs it}
DISPENSE: StateMachine[DispenseStatus] = StateMachine(
    N_("dispense"),
    DispenseStatus,
    {
        REQUESTED: {AUTHORISED: "authorise", REFUSED: "refuse"},
        AUTHORISED: {COMMANDED: "mark_commanded", FAILED: "fail"},
        COMMANDED: {SENSED: "record_sensed", FAILED: "fail"},
        SENSED: {COMPLETED: "complete"},
        COMPLETED: {},
        REFUSED: {},
        FAILED: {},
    },
    tones={AUTHORISED: "info", COMMANDED: "info", SENSED: "info", COMPLETED: "good", REFUSED: "warn", FAILED: "bad"},
)
