"""The states of supplier documents, each with one transition table, and the one function that moves them.

Acknowledgement (a supplier's answer to an order)::

    confirmed              (as ordered: nothing to decide)        rejected_by_supplier (the buyer sees it)
    change_proposed ──buyer accepts──► accepted  (changes applied)
          │   └──buyer accepts, rise above the site's re-approval limit──► awaiting_approval ──approver──► accepted
          └──buyer declines──► declined                                          └──approver declines──► declined
    change_proposed / awaiting_approval ──a newer answer arrives──► superseded

Invoice (matched when it arrives)::

    matched ──export──► exported
    held (reason per line) ──receipts arrive, matches now──► matched
          ├──a person approves the difference──► approved ──export──► exported
          └──a person rejects it──► rejected
"""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from core.states import State, StateMachine
from core.texts import N_


class AckStatus(State):
    CONFIRMED = "confirmed"
    REJECTED_BY_SUPPLIER = "rejected_by_supplier"
    CHANGE_PROPOSED = "change_proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


ACK_OPEN = (AckStatus.CHANGE_PROPOSED, AckStatus.AWAITING_APPROVAL)
ACK_LABELS = {
    AckStatus.CONFIRMED: lazy_gettext("confirmed as ordered"),
    AckStatus.REJECTED_BY_SUPPLIER: lazy_gettext("rejected by the supplier"),
    AckStatus.CHANGE_PROPOSED: lazy_gettext("changes proposed: your decision"),
    AckStatus.AWAITING_APPROVAL: lazy_gettext("changes accepted, waiting for approval"),
    AckStatus.ACCEPTED: lazy_gettext("changes accepted and applied"),
    AckStatus.DECLINED: lazy_gettext("changes declined"),
    AckStatus.SUPERSEDED: lazy_gettext("replaced by a later answer"),
}
_PROPOSED, _AWAITING = AckStatus.CHANGE_PROPOSED, AckStatus.AWAITING_APPROVAL
# from-status → {to-status: the action that performs it}; an answer is inserted in its first status
ACK: StateMachine[AckStatus] = StateMachine(
    N_("acknowledgement"),
    AckStatus,
    {
        _PROPOSED: {AckStatus.ACCEPTED: "accept", _AWAITING: "accept", AckStatus.DECLINED: "decline",
                    AckStatus.SUPERSEDED: "supersede"},
        _AWAITING: {AckStatus.ACCEPTED: "approve", AckStatus.DECLINED: "decline", AckStatus.SUPERSEDED: "supersede"},
        AckStatus.CONFIRMED: {},
        AckStatus.REJECTED_BY_SUPPLIER: {},
        AckStatus.ACCEPTED: {},
        AckStatus.DECLINED: {},
        AckStatus.SUPERSEDED: {},
    },
    tones={AckStatus.CONFIRMED: "good", AckStatus.REJECTED_BY_SUPPLIER: "bad", _PROPOSED: "warn", _AWAITING: "warn",
           AckStatus.ACCEPTED: "good", AckStatus.DECLINED: "neutral", AckStatus.SUPERSEDED: "neutral"},
)  # fmt: skip


SUPPLIER_LABELS = {  # the same states as the supplier reads them on its link page
    AckStatus.CONFIRMED: lazy_gettext("confirmed as ordered"),
    AckStatus.REJECTED_BY_SUPPLIER: lazy_gettext("order rejected"),
    AckStatus.CHANGE_PROPOSED: lazy_gettext("changes proposed: waiting for the buyer"),
    AckStatus.AWAITING_APPROVAL: lazy_gettext("changes accepted by the buyer, waiting for the buyer's approval"),
    AckStatus.ACCEPTED: lazy_gettext("changes accepted"),
    AckStatus.DECLINED: lazy_gettext("changes declined by the buyer"),
    AckStatus.SUPERSEDED: lazy_gettext("replaced by a later answer"),
}
def ack_words(status: str) -> str:
    """An answer's state as a sentence names it: "change proposed" in English, the translated label otherwise."""
    label = AckStatus(status).label
    shown = str(gettext(label))
    return status.replace("_", " ") if shown == label else shown


CHANGES_SAID = {  # what the buyer's decision on a supplier's changes did, as the buyer's page says it
    AckStatus.ACCEPTED: lazy_gettext("accepted"),
    AckStatus.DECLINED: lazy_gettext("declined"),
    AckStatus.AWAITING_APPROVAL: lazy_gettext("awaiting approval"),
}


class InvoiceStatus(State):
    MATCHED = "matched"
    HELD = "held"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTED = "exported"


INVOICE: StateMachine[InvoiceStatus] = StateMachine(
    N_("invoice"),
    InvoiceStatus,
    {
        InvoiceStatus.HELD: {InvoiceStatus.MATCHED: "rematch", InvoiceStatus.APPROVED: "approve",
                             InvoiceStatus.REJECTED: "reject"},
        InvoiceStatus.MATCHED: {InvoiceStatus.EXPORTED: "export"},
        InvoiceStatus.APPROVED: {InvoiceStatus.EXPORTED: "export"},
        InvoiceStatus.REJECTED: {},
        InvoiceStatus.EXPORTED: {},
    },
    labels={InvoiceStatus.HELD: "On hold", InvoiceStatus.APPROVED: "Approved with a difference"},
    tones={InvoiceStatus.MATCHED: "good", InvoiceStatus.HELD: "warn", InvoiceStatus.APPROVED: "good",
           InvoiceStatus.REJECTED: "bad", InvoiceStatus.EXPORTED: "neutral"},
)  # fmt: skip
INVOICE_LABELS = {
    InvoiceStatus.MATCHED: lazy_gettext("matched"),
    InvoiceStatus.HELD: lazy_gettext("held"),
    InvoiceStatus.APPROVED: lazy_gettext("approved"),
    InvoiceStatus.REJECTED: lazy_gettext("rejected"),
    InvoiceStatus.EXPORTED: lazy_gettext("exported"),
}
PAYABLE = (InvoiceStatus.MATCHED, InvoiceStatus.APPROVED)  # exportable for payment
COUNTED = (InvoiceStatus.MATCHED, InvoiceStatus.HELD, InvoiceStatus.APPROVED, InvoiceStatus.EXPORTED)


def ack_move(entity: object, current: str, target: AckStatus) -> AckStatus:
    """`target` if the acknowledgement table allows current → target, else InvalidTransition."""
    ACK.check(entity, current, target)
    return target


def invoice_move(entity: object, current: str, target: InvoiceStatus) -> InvoiceStatus:
    INVOICE.check(entity, current, target)
    return target
