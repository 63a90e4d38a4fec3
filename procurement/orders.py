"""Purchase orders: the one place status changes, totals, manual POs and their lines, the simple transitions.

Steps that also run the approval rules (submit, edits of a submitted order) live in `procurement.workflow`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, NotFound
from core.events import PurchaseOrderStatusChanged
from core.models import Item
from core.notes import N_, Note
from core.outbox import publish
from procurement.models import DraftSlot, PurchaseOrder, PurchaseOrderLine, SiteProcurementSettings, Supplier
from procurement.po_states import (
    APPROVED,
    CANCELLED,
    CLOSED,
    COMMITTED_STATUSES,
    DRAFT,
    OPEN_STATUSES,
    ORDER_CHANNELS,
    ORDER_CHANNELS_EN,
    ORDERED,
    PARTLY,
    PENDING,
    PO_STATES,
    RECEIVABLE_STATUSES,
    RECEIVED,
    REJECTED,
    SENT,
    TRANSITIONS,
    POStatus,
    status_words,
)

__all__ = [  # the statuses are re-exported: callers import them from orders
    "APPROVED", "CANCELLED", "CLOSED", "COMMITTED_STATUSES", "DRAFT", "OPEN_STATUSES", "ORDERED", "PARTLY", "PENDING",
    "PO_STATES", "RECEIVABLE_STATUSES", "RECEIVED", "REJECTED", "SENT", "TRANSITIONS", "POStatus",
]  # fmt: skip

EDITABLE_STATUSES = (DRAFT, PENDING, APPROVED)
SYSTEM_ACTOR = "system:replenish"  # who raises and submits the orders replenishment makes
CENT = Decimal("0.01")


def allowed_targets(status: str) -> frozenset[POStatus]:
    return PO_STATES.allowed(status)


def transition(session: Session, po: PurchaseOrder, target: str, actor: str, clock: Clock, comment: str = "") -> None:
    """Move `po` to `target` if the table allows it: status, audit entry and event in the caller's transaction."""
    current = POStatus(po.status)
    action = PO_STATES.check(lazy_gettext("purchase order %(number)s", number=po.po_number), current, target)
    now = clock.now()
    session.flush()  # the compare-and-set below must see this order as the session holds it
    moved = session.execute(
        PO_STATES.compare_and_set(PurchaseOrder.status, PurchaseOrder.id, target, updated_at=now), {"key": po.id}
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(lazy_gettext(
                "purchase order %(po_number)s was changed by someone else just now: reload",
                po_number=po.po_number,
            ), field="status")
    po.status, po.updated_at = POStatus(target).value, now  # what the row now holds
    if current == DRAFT:
        session.execute(delete(DraftSlot).where(DraftSlot.po_id == po.id))
    totals = po_totals(session, po)
    audit.record(
        session, actor, f"po.{action}", "purchase_order", po.po_number,
        before={"status": current.value}, after={"status": str(target), "total": totals.total}, comment=comment,
        clock=clock,
    )  # fmt: skip
    publish(
        session,
        PurchaseOrderStatusChanged(
            occurred_at=now, po_number=po.po_number, from_status=current.value, to_status=str(target), actor=actor,
            total=totals.total, currency=po.currency,
        ),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def po_totals(session: Session, po: PurchaseOrder) -> Totals:
    raw = session.scalar(
        select(func.coalesce(func.sum(PurchaseOrderLine.quantity * PurchaseOrderLine.unit_price), 0)).where(
            PurchaseOrderLine.po_id == po.id
        )
    )
    return totals_for(Decimal(str(raw)), po.tax_rate)


def totals_for(subtotal: Decimal, tax_rate: Decimal) -> Totals:
    sub = subtotal.quantize(CENT, rounding=ROUND_HALF_UP)
    tax = (sub * tax_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return Totals(sub, tax, sub + tax)


def get_po(session: Session, po_number: str, lock: bool = False) -> PurchaseOrder:
    query = select(PurchaseOrder).where(PurchaseOrder.po_number == po_number)
    if lock:
        query = query.with_for_update()
    po = session.scalar(query)
    if po is None:
        raise NotFound(lazy_gettext("no purchase order %(po_number)s", po_number=repr(po_number)), field="po_number")
    return po


def site_settings(session: Session, site_id: int) -> SiteProcurementSettings:
    row = session.get(SiteProcurementSettings, site_id)
    if row is None:
        row = SiteProcurementSettings(site_id=site_id)
        session.add(row)
        session.flush()
    return row


def new_po(
    session: Session, supplier: Supplier, site_id: int, actor: str, clock: Clock, origin: str = "manual",
    cost_center_id: int | None = None,
) -> PurchaseOrder:  # fmt: skip
    now = clock.now()
    po = PurchaseOrder(
        po_number=f"tmp-{uuid.uuid4().hex[:24]}", supplier_id=supplier.id, site_id=site_id,
        currency=supplier.currency, status=DRAFT, origin=origin, requester=actor, last_editor=actor,
        cost_center_id=cost_center_id, tax_rate=site_settings(session, site_id).tax_rate, created_at=now,
        updated_at=now,
    )  # fmt: skip
    session.add(po)
    session.flush()
    po.po_number = f"PO-{po.id:06d}"
    audit.record(session, actor, "po.create", "purchase_order", po.po_number, after={"status": DRAFT}, clock=clock)
    return po


def next_line_number(session: Session, po_id: int) -> int:
    top = session.scalar(select(func.max(PurchaseOrderLine.line_number)).where(PurchaseOrderLine.po_id == po_id))
    return int(top or 0) + 1


def add_line(
    session: Session, po: PurchaseOrder, sku: str, quantity: int, unit_price: Decimal, actor: str, clock: Clock,
    reason: Note | None = None,
) -> PurchaseOrderLine:  # fmt: skip
    """Add a line to a draft by hand (the editor becomes last editor and can no longer approve it).

    `reason` is stored on the line as a note (core/notes.py); by default "added by hand"."""
    if po.status != DRAFT:
        raise Conflict(lazy_gettext(
                "%(po_number)s is %(status)s: lines can only be added to a draft",
                po_number=po.po_number,
                status=status_words(po.status),
            ), field="status")
    if quantity < 1:
        raise DomainError(lazy_gettext("quantity %(quantity)s must be at least 1", quantity=quantity), field="quantity")
    if unit_price < 0:
        raise DomainError(lazy_gettext("unit price cannot be negative"), field="unit_price")
    item = session.scalar(select(Item).where(Item.sku == sku))
    if item is None:
        raise NotFound(lazy_gettext("unknown SKU %(sku)s", sku=repr(sku)), field="sku")
    line = PurchaseOrderLine(
        po_id=po.id, line_number=next_line_number(session, po.id), item_id=item.id, quantity=quantity,
        unit_price=unit_price, received_qty=0, closed_qty=0,
        reason=(reason or Note.of(N_("added by hand"))).encode(),
    )  # fmt: skip
    session.add(line)
    po.last_editor, po.updated_at = actor, clock.now()
    session.flush()
    return line






def cancel(session: Session, po_number: str, actor: str, clock: Clock, reason: str) -> None:
    if not reason.strip():
        raise DomainError(lazy_gettext("say why the order is cancelled"), field="reason")
    transition(session, get_po(session, po_number, lock=True), CANCELLED, actor, clock, comment=reason)


def revise(session: Session, po_number: str, actor: str, clock: Clock) -> None:
    po = get_po(session, po_number, lock=True)
    transition(session, po, DRAFT, actor, clock)
    po.last_editor = actor


def mark_ordered(session: Session, po_number: str, channel: str, reference: str, actor: str, clock: Clock) -> None:
    """Approved → ordered: the order went to the supplier outside vendtrack's e-mail (phone, portal, EDI, e-mail)."""
    if channel not in ORDER_CHANNELS:
        raise DomainError(lazy_gettext(
                "say how the order was placed: one of %(order_channels)s",
                order_channels=", ".join(ORDER_CHANNELS),
            ), field="channel")
    if len(reference) > 200:
        raise DomainError(lazy_gettext("the supplier's reference is at most 200 characters"), field="reference")
    po = get_po(session, po_number, lock=True)
    reference = reference.strip()
    comment = f"placed {ORDER_CHANNELS_EN[channel]}" + (f", supplier reference {reference}" if reference else "")
    transition(session, po, ORDERED, actor, clock, comment=comment)
    po.ordered_via, po.ordered_at = channel, clock.now()


def close(session: Session, po_number: str, actor: str, clock: Clock) -> None:
    transition(session, get_po(session, po_number, lock=True), CLOSED, actor, clock)
