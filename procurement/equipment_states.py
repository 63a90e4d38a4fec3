"""Equipment purchase request statuses (PAR shortfalls from tracking): the enum and its one transition table.

A request arrives `open`; it becomes `ordered` when its line is on a purchase order (which then goes through the
approval rules like any order), or `dismissed` by a buyer with a note. A request whose asset type has no item or
no supplier yet stays open with the problem in words until a buyer orders it after fixing the catalogue.
"""

from __future__ import annotations

from core.states import State, StateMachine
from core.texts import N_


class RequestStatus(State):
    OPEN = "open"
    ORDERED = "ordered"
    DISMISSED = "dismissed"


REQUEST_STATES: StateMachine[RequestStatus] = StateMachine(
    N_("equipment request"),
    RequestStatus,
    {
        RequestStatus.OPEN: {RequestStatus.ORDERED: "order", RequestStatus.DISMISSED: "dismiss"},
        RequestStatus.ORDERED: {},
        RequestStatus.DISMISSED: {},
    },
    tones={RequestStatus.OPEN: "warn", RequestStatus.ORDERED: "good", RequestStatus.DISMISSED: "neutral"},
)
