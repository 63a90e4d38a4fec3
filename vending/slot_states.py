"""Slot states (in service, jammed, disabled): the enum, its one transition table, and the one way to move a slot."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext

from core.states import State, StateMachine
from core.texts import N_


class SlotState(State):
    OK = "ok"  # in service
    JAMMED = "jammed"  # a dispense sensed a jam: nobody takes from it until someone clears it
    DISABLED = "disabled"  # taken out of service by a person


OK, JAMMED, DISABLED = SlotState.OK, SlotState.JAMMED, SlotState.DISABLED

# from-state → {to-state: the action that performs it}
SLOT: StateMachine[SlotState] = StateMachine(
    N_("slot"),
    SlotState,
    {
        OK: {JAMMED: "flag_jam", DISABLED: "disable"},
        JAMMED: {OK: "clear", DISABLED: "disable"},
        DISABLED: {OK: "clear"},
    },
    labels={OK: "In service"},
    tones={OK: "good", JAMMED: "bad", DISABLED: "warn"},
)


def move(slot: Any, target: SlotState, reason: str = "") -> SlotState:
    """Move a loaded Slot to `target` with the reason shown beside it; returns the state it left."""
    before = SLOT.move(slot, target, lazy_gettext("slot %(code)s", code=slot.code), column="state")
    slot.state_reason = reason
    return before
