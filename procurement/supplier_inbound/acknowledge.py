"""Order acknowledgements: the supplier confirms, rejects, or proposes per-line changes (quantity, price, date);
the buyer accepts or declines the changes, and a change that lifts the total above the site's re-approval limit
needs an approver (someone other than the buyer who accepted) before it is applied to the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.roles import Role
from procurement.models import Acknowledgement, AcknowledgementLine, PurchaseOrder, PurchaseOrderLine
from procurement.orders import PARTLY, SENT, get_po, po_totals, site_settings, totals_for
from procurement.po_states import status_words
from procurement.supplier_inbound.states import ACK_OPEN, AckStatus, ack_move, ack_words

ACTIONS = ("accept", "reject", "change")
ANSWERABLE = (SENT, PARTLY)


@dataclass(frozen=True, slots=True)
class AckLineInput:
    line_number: int
    action: str  # accept | reject | change
    quantity: int | None = None
    unit_price: Decimal | None = None
    delivery_date: date | None = None


@dataclass(frozen=True, slots=True)
class AckInput:
    po_number: str
    reject_order: bool
    lines: tuple[AckLineInput, ...]
    comment: str = ""


def _lines(session: Session, po: PurchaseOrder) -> dict[int, PurchaseOrderLine]:
    rows = session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id))
    return {line.line_number: line for line in rows}


def _is_change(answer: AckLineInput, line: PurchaseOrderLine, wanted: date | None) -> bool:
    if answer.action == "reject":
        return True
    if answer.action != "change":
        return False
    return ((answer.quantity is not None and answer.quantity != line.quantity)
            or (answer.unit_price is not None and answer.unit_price != line.unit_price)
            or (answer.delivery_date is not None and answer.delivery_date != wanted))  # fmt: skip


def record(session: Session, data: AckInput, document_id: int, clock: Clock, actor: str) -> Acknowledgement:
    """Store the supplier's answer; an open earlier answer of the same order is superseded."""
    po = get_po(session, data.po_number, lock=True)
    if po.status not in ANSWERABLE:
        raise Conflict(lazy_gettext("%(po_number)s is %(status)s: it cannot be acknowledged now",
                                    po_number=po.po_number, status=status_words(po.status)),
                       field="status")  # fmt: skip
    lines = _lines(session, po)
    changed = False
    for answer in data.lines:
        line = lines.get(answer.line_number)
        if line is None:
            raise DomainError(
                lazy_gettext(
                    "%(po_number)s has no line %(line_number)s", po_number=po.po_number, line_number=answer.line_number
                ),
                field=f"line_{answer.line_number}",
            )
        if answer.action not in ACTIONS:
            raise DomainError(lazy_gettext("line %(line_number)s: answer %(action)s is not one of %(actions)s",
                                           line_number=answer.line_number, action=repr(answer.action[:20]),
                                           actions=", ".join(ACTIONS)), field=f"line_{answer.line_number}")  # fmt: skip
        if answer.quantity is not None and answer.quantity < max(line.received_qty, 1):
            raise DomainError(lazy_gettext("line %(line_number)s: quantity %(quantity)s is below %(received_qty)s "
                                           "(reject the line instead)", line_number=answer.line_number,
                                           quantity=answer.quantity, received_qty=max(line.received_qty, 1)),
                              field=f"line_{answer.line_number}_quantity")  # fmt: skip
        changed |= _is_change(answer, line, line.requested_delivery_date or po.requested_delivery_date)
    status = (AckStatus.REJECTED_BY_SUPPLIER if data.reject_order
              else AckStatus.CHANGE_PROPOSED if changed else AckStatus.CONFIRMED)  # fmt: skip
    now = clock.now()
    for earlier in session.scalars(select(Acknowledgement).where(Acknowledgement.po_id == po.id,
                                                                 Acknowledgement.status.in_(ACK_OPEN))):  # fmt: skip
        named = lazy_gettext("acknowledgement %(id)s", id=earlier.id)
        earlier.status = ack_move(named, earlier.status, AckStatus.SUPERSEDED)
    ack = Acknowledgement(po_id=po.id, document_id=document_id, response="reject" if data.reject_order else
                          "change" if changed else "confirm", status=status, comment=data.comment[:2000],
                          received_at=now)  # fmt: skip
    session.add(ack)
    session.flush()
    for answer in data.lines:
        session.add(AcknowledgementLine(ack_id=ack.id, line_number=answer.line_number, action=answer.action,
                                        quantity=answer.quantity, unit_price=answer.unit_price,
                                        delivery_date=answer.delivery_date))  # fmt: skip
    if status == AckStatus.CONFIRMED:  # dates confirmed as requested become the promised dates
        _apply_dates(lines, data.lines)
    audit.record(session, actor, "po.acknowledgement", "purchase_order", po.po_number,
                 after={"status": status.value, "lines": [_answer(a) for a in data.lines if a.action != "accept"]},
                 comment=data.comment[:500], clock=clock)  # fmt: skip
    return ack


def _answer(a: AckLineInput) -> dict[str, object]:
    return {"line": a.line_number, "action": a.action, "quantity": a.quantity, "unit_price": a.unit_price,
            "delivery_date": _iso(a.delivery_date)}  # fmt: skip


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _apply_dates(lines: dict[int, PurchaseOrderLine], answers: tuple[AckLineInput, ...]) -> None:
    for answer in answers:
        if answer.delivery_date is not None and answer.action != "reject":
            lines[answer.line_number].promised_date = answer.delivery_date


def _open_ack(session: Session, ack_id: int, want: AckStatus) -> tuple[Acknowledgement, PurchaseOrder]:
    ack = session.get(Acknowledgement, ack_id, with_for_update=True)
    if ack is None:
        raise NotFound(lazy_gettext("no acknowledgement %(ack_id)s", ack_id=ack_id), field="ack_id")
    po = session.get(PurchaseOrder, ack.po_id)
    assert po is not None
    if ack.status != want:
        raise Conflict(lazy_gettext("this answer of %(po_number)s is %(status)s, not %(wanted)s",
                                    po_number=po.po_number, status=ack_words(ack.status),
                                    wanted=ack_words(want.value)), field="status")  # fmt: skip
    if po.status not in (*ANSWERABLE, "received"):
        raise Conflict(lazy_gettext("%(po_number)s is %(status)s: its supplier's changes can no longer apply",
                                    po_number=po.po_number, status=status_words(po.status)),
                       field="status")  # fmt: skip
    return ack, po


def proposed_total(session: Session, po: PurchaseOrder, ack: Acknowledgement) -> Decimal:
    lines = _lines(session, po)
    subtotal = Decimal("0")
    answers = {a.line_number: a for a in session.scalars(select(AcknowledgementLine).where(
        AcknowledgementLine.ack_id == ack.id))}  # fmt: skip
    for number, line in lines.items():
        answer = answers.get(number)
        qty, price = line.quantity, line.unit_price
        if answer is not None and answer.action == "reject":
            qty = line.received_qty
        elif answer is not None and answer.action == "change":
            qty = answer.quantity if answer.quantity is not None else qty
            price = answer.unit_price if answer.unit_price is not None else price
        subtotal += qty * price
    return totals_for(subtotal, po.tax_rate).total


def decide(session: Session, ack_id: int, accept: bool, actor: str, clock: Clock, comment: str = "") -> AckStatus:
    """The buyer's decision on proposed changes; returns the new status (awaiting_approval above the limit)."""
    ack, po = _open_ack(session, ack_id, AckStatus.CHANGE_PROPOSED)
    entity = lazy_gettext("acknowledgement of %(number)s", number=po.po_number)
    if not accept:
        if not comment.strip():
            raise DomainError(lazy_gettext("say why the changes are declined: the supplier is told"), field="comment")
        return _close(session, ack, po, ack_move(entity, ack.status, AckStatus.DECLINED), actor, clock, comment)
    base = po.approved_total or po_totals(session, po).total
    new_total = proposed_total(session, po, ack)
    limit = site_settings(session, po.site_id).reapproval_rise_pct
    rise = (new_total - base) / base * 100 if base else Decimal(100)
    if rise > limit:
        ack.decided_by = actor
        why = f"total {base:.2f} → {new_total:.2f} (+{rise:.1f} %, limit {limit} %): needs approval"
        ack.status = ack_move(entity, ack.status, AckStatus.AWAITING_APPROVAL)
        audit.record(session, actor, "po.acknowledgement_needs_approval", "purchase_order", po.po_number,
                     after={"ack": ack.id, "total": new_total}, comment=why, clock=clock)  # fmt: skip
        return AckStatus.AWAITING_APPROVAL
    _apply(session, ack, po, actor, clock)
    return _close(session, ack, po, ack_move(entity, ack.status, AckStatus.ACCEPTED), actor, clock, comment)


def approve_change(
    session: Session, ack_id: int, accept: bool, actor: str, roles: frozenset[str], clock: Clock, comment: str = ""
) -> AckStatus:  # fmt: skip
    """An approver's decision on changes above the limit: not the buyer who accepted them."""
    ack, po = _open_ack(session, ack_id, AckStatus.AWAITING_APPROVAL)
    if not roles & {Role.APPROVER.value, Role.ADMIN.value}:
        raise Forbidden(
            lazy_gettext("only an approver decides on changes above the re-approval limit"), field="approver"
        )
    if actor == ack.decided_by:
        raise Forbidden(lazy_gettext("you accepted these changes: someone else must approve them"), field="approver")
    entity = lazy_gettext("acknowledgement of %(number)s", number=po.po_number)
    if not accept:
        if not comment.strip():
            raise DomainError(lazy_gettext("say why the changes are declined: the supplier is told"), field="comment")
        return _close(session, ack, po, ack_move(entity, ack.status, AckStatus.DECLINED), actor, clock, comment)
    _apply(session, ack, po, actor, clock)
    po.approved_total = po_totals(session, po).total
    return _close(session, ack, po, ack_move(entity, ack.status, AckStatus.ACCEPTED), actor, clock, comment)


def _apply(session: Session, ack: Acknowledgement, po: PurchaseOrder, actor: str, clock: Clock) -> None:
    lines = _lines(session, po)
    before: dict[int, dict[str, object]] = {}
    for answer in session.scalars(select(AcknowledgementLine).where(AcknowledgementLine.ack_id == ack.id)):
        line = lines[answer.line_number]
        before[line.line_number] = _state(line)
        if answer.action == "reject":  # the rest of the line will not come: closed, the ordered quantity kept
            line.closed_qty = max(line.quantity - line.received_qty, 0)
        elif answer.action == "change":
            line.quantity = answer.quantity if answer.quantity is not None else line.quantity
            line.unit_price = answer.unit_price if answer.unit_price is not None else line.unit_price
        if answer.delivery_date is not None and answer.action != "reject":
            line.promised_date = answer.delivery_date
    po.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "po.acknowledgement_applied", "purchase_order", po.po_number, before=before,
                 after={n: _state(lines[n]) for n in before}, clock=clock)  # fmt: skip


def _state(line: PurchaseOrderLine) -> dict[str, object]:
    return {"quantity": line.quantity, "closed": line.closed_qty, "unit_price": line.unit_price,
            "promised_date": _iso(line.promised_date)}  # fmt: skip


def _close(session: Session, ack: Acknowledgement, po: PurchaseOrder, status: AckStatus, actor: str, clock: Clock,
           comment: str) -> AckStatus:  # fmt: skip
    ack.status, ack.decided_by, ack.decided_at, ack.decision_comment = status, actor, clock.now(), comment[:2000]
    audit.record(session, actor, f"po.acknowledgement_{status.value}", "purchase_order", po.po_number,
                 after={"ack": ack.id, "status": status.value}, comment=comment[:500], clock=clock)  # fmt: skip
    return status
