"""Purchase order statuses: the enum, its one transition table (with labels and colours) and named groups."""

from __future__ import annotations

from flask_babel import get_locale, gettext, lazy_gettext

from core.states import State, StateMachine
from core.texts import N_


class POStatus(State):
    DRAFT = "draft"
    PENDING = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"  # e-mailed to the supplier by vendtrack
    ORDERED = "ordered"  # placed another way (phone, portal, EDI, e-mail outside vendtrack) and marked so
    PARTLY = "partly_received"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


DRAFT, PENDING, APPROVED, REJECTED = POStatus.DRAFT, POStatus.PENDING, POStatus.APPROVED, POStatus.REJECTED
SENT, ORDERED, PARTLY = POStatus.SENT, POStatus.ORDERED, POStatus.PARTLY
RECEIVED, CLOSED, CANCELLED = POStatus.RECEIVED, POStatus.CLOSED, POStatus.CANCELLED

# from-status → {to-status: the service function (and page action) that performs it}
PO_STATES: StateMachine[POStatus] = StateMachine(
    N_("purchase order"),
    POStatus,
    {
        DRAFT: {PENDING: "submit", CANCELLED: "cancel"},
        PENDING: {APPROVED: "approve", REJECTED: "reject", CANCELLED: "cancel"},
        REJECTED: {DRAFT: "revise", CANCELLED: "cancel"},
        APPROVED: {SENT: "send", ORDERED: "mark_ordered", PENDING: "require_reapproval", CANCELLED: "cancel"},
        SENT: {PARTLY: "receive", RECEIVED: "receive", CLOSED: "close_short", CANCELLED: "cancel"},
        ORDERED: {PARTLY: "receive", RECEIVED: "receive", CLOSED: "close_short", CANCELLED: "cancel"},
        PARTLY: {PARTLY: "receive", RECEIVED: "receive", CLOSED: "close_short"},
        RECEIVED: {CLOSED: "close"},
        CLOSED: {},
        CANCELLED: {},
    },
    labels={PENDING: "Waiting for approval", SENT: "Sent to supplier", ORDERED: "Ordered",
            PARTLY: "Partly received"},
    tones={DRAFT: "neutral", PENDING: "warn", APPROVED: "info", REJECTED: "bad", SENT: "info", ORDERED: "info",
           PARTLY: "warn", RECEIVED: "good", CLOSED: "good", CANCELLED: "neutral"},
)  # fmt: skip
TRANSITIONS = PO_STATES.transitions


def status_words(status: str) -> str:
    """A PO status as a sentence names it: "waiting for approval" in English; other languages quote the label."""
    label = gettext(POStatus(status).label)
    return label.lower() if str(get_locale() or "en").startswith("en") else label

RECEIVABLE_STATUSES = (SENT, ORDERED, PARTLY)
OPEN_STATUSES = (DRAFT, PENDING, APPROVED, SENT, ORDERED, PARTLY)  # their unreceived quantity counts in the position
COMMITTED_STATUSES = (APPROVED, SENT, ORDERED, PARTLY, RECEIVED, CLOSED)  # spend that counts against budgets
# How an order was placed outside vendtrack: English for the audit log, translated where people read it
ORDER_CHANNELS_EN = {  # i18n: English for the audit log
    "phone": "by phone", "portal": "in the supplier's portal", "edi": "by EDI", "email": "by e-mail outside vendtrack",
}  # fmt: skip
ORDER_CHANNELS = {"phone": lazy_gettext("by phone"), "portal": lazy_gettext("in the supplier's portal"),
                  "edi": lazy_gettext("by EDI"), "email": lazy_gettext("by e-mail outside vendtrack")}  # fmt: skip
