"""Receiving: partial receipts per line (the rest stays open as backorder), over-receipt tolerance, close short."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError
from core.events import StockReceived
from core.models import Item, Site
from core.notes import N_, Note
from core.outbox import publish
from procurement.models import PurchaseOrderLine, Receipt
from procurement.orders import (
    CLOSED,
    PARTLY,
    RECEIVABLE_STATUSES,
    RECEIVED,
    get_po,
    site_settings,
    transition,
)
from procurement.po_states import status_words
from procurement.stock import add_on_hand


@dataclass(frozen=True, slots=True)
class Lot:
    """Batch/lot and expiry of received goods, as a supplier's label gives them."""

    lot: str = ""
    expiry: date | None = None


@dataclass(frozen=True, slots=True)
class LineBalance:
    line_number: int
    ordered: int
    received: int
    closed: int

    @property
    def backorder(self) -> int:
        return max(self.ordered - self.received - self.closed, 0)


def receive(
    session: Session, po_number: str, quantities: Mapping[int, int], actor: str, clock: Clock, note: str = "",
    lots: Mapping[int, Lot] | None = None,
) -> str:
    """Book received quantities per line number (with their lot when scanned); emits StockReceived per line;
    returns the new PO status."""
    po = get_po(session, po_number, lock=True)
    if po.status not in RECEIVABLE_STATUSES:
        raise Conflict(
            lazy_gettext("%(po_number)s is %(status)s: goods are received against orders sent to or placed with the "
                         "supplier (e-mail it, or mark it as ordered by phone, portal or EDI)",
                         po_number=po_number, status=status_words(po.status)), field="status",
        )  # fmt: skip
    wanted = {n: q for n, q in quantities.items() if q}
    if not wanted:
        raise DomainError(lazy_gettext("enter a received quantity on at least one line"), field="quantities")
    lines = {
        line.line_number: line
        for line in session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id))
    }
    tolerance = site_settings(session, po.site_id).over_receipt_pct / Decimal(100)
    site_code = session.scalar(select(Site.code).where(Site.id == po.site_id))
    now = clock.now()
    for number, qty in sorted(wanted.items()):
        line = lines.get(number)
        if line is None:
            raise DomainError(lazy_gettext(
                    "%(po_number)s has no line %(number)s",
                    po_number=po_number,
                    number=number,
                ), field=f"line_{number}")
        if qty < 0:
            raise DomainError(lazy_gettext(
                    "line %(number)s: received quantity cannot be negative",
                    number=number,
                ), field=f"line_{number}")
        allowed = int(line.quantity * (1 + tolerance)) - line.received_qty - line.closed_qty
        if qty > allowed:
            raise DomainError(
                lazy_gettext(
                        "line %(number)s: %(qty)s received but only %(allowed)s more allowed (ordered "
                        "%(quantity)s, received %(received_qty)s, tolerance %(tolerance)s); check the "
                        "delivery note",
                        number=number,
                        qty=qty,
                        allowed=allowed,
                        quantity=line.quantity,
                        received_qty=line.received_qty,
                        tolerance=format(tolerance, ".0%"),
                    ),
                field=f"line_{number}",
            )
        line.received_qty += qty
        lot = (lots or {}).get(number, Lot())
        session.add(Receipt(po_line_id=line.id, quantity=qty, actor=actor, note=note, at=now, lot=lot.lot,
                            expiry=lot.expiry))  # fmt: skip
        add_on_hand(session, line.item_id, po.site_id, qty, now)
        sku = session.scalar(select(Item.sku).where(Item.id == line.item_id))
        publish(session, StockReceived(occurred_at=now, site_code=str(site_code), sku=str(sku), quantity=qty,
                                       po_number=po_number, line_number=number, lot=lot.lot,
                                       expiry=lot.expiry.isoformat() if lot.expiry else ""))  # fmt: skip
    audit.record(session, actor, "po.receipt", "purchase_order", po_number, after={"lines": wanted}, comment=note,
                 clock=clock)  # fmt: skip
    complete = all(line.received_qty + line.closed_qty >= line.quantity for line in lines.values())
    target = RECEIVED if complete else PARTLY
    if target != po.status or target == PARTLY:
        transition(session, po, target, actor, clock, comment=note)
    return po.status


def close_short(session: Session, po_number: str, reason: str, actor: str, clock: Clock) -> None:
    """Close a sent or partly received PO: what is still open is cancelled, with the reason recorded."""
    if not reason.strip():
        raise DomainError(lazy_gettext("say why the rest will not be delivered"), field="reason")
    po = get_po(session, po_number, lock=True)
    if po.status not in RECEIVABLE_STATUSES:
        raise Conflict(
            lazy_gettext("%(po_number)s is %(status)s: only ordered, sent or partly received orders close short",
                         po_number=po_number, status=status_words(po.status)), field="status",
        )  # fmt: skip
    for line in session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id)):
        line.closed_qty = max(line.quantity - line.received_qty, 0)
    said = Note.of(N_("closed short: %(reason)s"), reason=Note.typed(reason))  # the typed reason stays as typed
    transition(session, po, CLOSED, actor, clock, comment=said.encode())


def balances(session: Session, po_id: int) -> list[LineBalance]:
    return [
        LineBalance(line.line_number, line.quantity, line.received_qty, line.closed_qty)
        for line in session.scalars(
            select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po_id).order_by(PurchaseOrderLine.line_number)
        )
    ]
