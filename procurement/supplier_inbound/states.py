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

from enum import StrEnum

from flask_babel import lazy_gettext

from core.errors import InvalidTransition


class AckStatus(StrEnum):
    CONFIRMED = "confirmed"
    REJECTED_BY_SUPPLIER = "rejected_by_supplier"
    CHANGE_PROPOSED = "change_proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


ACK_TRANSITIONS: dict[AckStatus, frozenset[AckStatus]] = {
    AckStatus.CHANGE_PROPOSED: frozenset(
        {AckStatus.ACCEPTED, AckStatus.AWAITING_APPROVAL, AckStatus.DECLINED, AckStatus.SUPERSEDED}
    ),
    AckStatus.AWAITING_APPROVAL: frozenset({AckStatus.ACCEPTED, AckStatus.DECLINED, AckStatus.SUPERSEDED}),
    AckStatus.CONFIRMED: frozenset(),
    AckStatus.REJECTED_BY_SUPPLIER: frozenset(),
    AckStatus.ACCEPTED: frozenset(),
    AckStatus.DECLINED: frozenset(),
    AckStatus.SUPERSEDED: frozenset(),
}
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


SUPPLIER_LABELS = {  # the same states as the supplier reads them on its link page
    AckStatus.CONFIRMED: lazy_gettext("confirmed as ordered"),
    AckStatus.REJECTED_BY_SUPPLIER: lazy_gettext("order rejected"),
    AckStatus.CHANGE_PROPOSED: lazy_gettext("changes proposed: waiting for the buyer"),
    AckStatus.AWAITING_APPROVAL: lazy_gettext("changes accepted by the buyer, waiting for the buyer's approval"),
    AckStatus.ACCEPTED: lazy_gettext("changes accepted"),
    AckStatus.DECLINED: lazy_gettext("changes declined by the buyer"),
    AckStatus.SUPERSEDED: lazy_gettext("replaced by a later answer"),
}
CHANGES_SAID = {  # what the buyer's decision on a supplier's changes did, as the buyer's page says it
    AckStatus.ACCEPTED: lazy_gettext("accepted"),
    AckStatus.DECLINED: lazy_gettext("declined"),
    AckStatus.AWAITING_APPROVAL: lazy_gettext("awaiting approval"),
}


class InvoiceStatus(StrEnum):
    MATCHED = "matched"
    HELD = "held"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTED = "exported"


INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.HELD: frozenset({InvoiceStatus.MATCHED, InvoiceStatus.APPROVED, InvoiceStatus.REJECTED}),
    InvoiceStatus.MATCHED: frozenset({InvoiceStatus.EXPORTED}),
    InvoiceStatus.APPROVED: frozenset({InvoiceStatus.EXPORTED}),
    InvoiceStatus.REJECTED: frozenset(),
    InvoiceStatus.EXPORTED: frozenset(),
}
INVOICE_LABELS = {
    InvoiceStatus.MATCHED: lazy_gettext("matched"),
    InvoiceStatus.HELD: lazy_gettext("held"),
    InvoiceStatus.APPROVED: lazy_gettext("approved"),
    InvoiceStatus.REJECTED: lazy_gettext("rejected"),
    InvoiceStatus.EXPORTED: lazy_gettext("exported"),
}
PAYABLE = (InvoiceStatus.MATCHED, InvoiceStatus.APPROVED)  # exportable for payment
COUNTED = (InvoiceStatus.MATCHED, InvoiceStatus.HELD, InvoiceStatus.APPROVED, InvoiceStatus.EXPORTED)


def ack_move(entity: str, current: str, target: AckStatus) -> AckStatus:
    """`target` if the acknowledgement table allows current → target, else InvalidTransition."""
    allowed = ACK_TRANSITIONS.get(AckStatus(current), frozenset())
    if target not in allowed:
        raise InvalidTransition(entity, current, target, {str(a) for a in allowed})
    return target


def invoice_move(entity: str, current: str, target: InvoiceStatus) -> InvoiceStatus:
    allowed = INVOICE_TRANSITIONS.get(InvoiceStatus(current), frozenset())
    if target not in allowed:
        raise InvalidTransition(entity, current, target, {str(a) for a in allowed})
    return target
