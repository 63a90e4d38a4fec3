"""Advance shipping notices: what the supplier says is on its way per line, and the quantities the receiving
page can expect (shipped minus already received)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError
from procurement.models import PurchaseOrderLine, ShipNotice, ShipNoticeLine
from procurement.orders import PARTLY, SENT, get_po, site_settings
from procurement.po_states import status_words


@dataclass(frozen=True, slots=True)
class ShipNoticeInput:
    po_number: str
    shipment_id: str
    ship_date: date
    lines: tuple[tuple[int, int], ...]  # (line number, quantity shipped); () = the whole order (all still open)
    expected_date: date | None = None
    carrier: str = ""
    tracking_number: str = ""


@dataclass(frozen=True, slots=True)
class Expected:
    line_number: int
    shipped: int
    received: int
    expected_date: date | None

    @property
    def in_transit(self) -> int:
        return max(self.shipped - self.received, 0)


def record(session: Session, data: ShipNoticeInput, document_id: int, clock: Clock, actor: str) -> ShipNotice:
    po = get_po(session, data.po_number, lock=True)
    if po.status not in (SENT, PARTLY):
        raise Conflict(lazy_gettext("%(po_number)s is %(status)s: no shipment can be announced for it",
                                    po_number=po.po_number, status=status_words(po.status)),
                       field="status")  # fmt: skip
    if not data.shipment_id:
        raise DomainError(lazy_gettext("a ship notice needs a shipment id"), field="shipment_id")
    if session.scalar(select(ShipNotice.id).where(ShipNotice.po_id == po.id,
                                                  ShipNotice.shipment_id == data.shipment_id)):  # fmt: skip
        raise Conflict(lazy_gettext(
                "shipment %(shipment_id)s of %(po_number)s was already announced",
                shipment_id=data.shipment_id,
                po_number=po.po_number,
            ), field="shipment_id")
    lines = {line.line_number: line for line in session.scalars(
        select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id))}  # fmt: skip
    shipped = shipped_by_line(session, po.id)
    if not data.lines:  # cXML: a ShipNoticePortion without items ships the whole order
        data = replace(data, lines=tuple((n, line.quantity - shipped.get(n, 0)) for n, line in sorted(lines.items())
                                         if line.quantity > shipped.get(n, 0)))  # fmt: skip
        if not data.lines:
            raise Conflict(lazy_gettext(
                    "everything on %(po_number)s was already announced",
                    po_number=po.po_number,
                ), field="lines")
    tolerance = site_settings(session, po.site_id).over_receipt_pct / Decimal(100)
    for number, qty in data.lines:
        line = lines.get(number)
        if line is None:
            raise DomainError(lazy_gettext(
                    "%(po_number)s has no line %(number)s",
                    po_number=po.po_number,
                    number=number,
                ), field=f"line_{number}")
        allowed = int(line.quantity * (1 + tolerance)) - shipped.get(number, 0)
        if not 0 < qty <= allowed:
            raise DomainError(lazy_gettext("line %(number)s: %(qty)s shipped but %(allowed)s at most can still be "
                                           "(ordered %(quantity)s, announced %(announced)s)", number=number,
                                           qty=qty, allowed=max(allowed, 0), quantity=line.quantity,
                                           announced=shipped.get(number, 0)),
                              field=f"line_{number}")  # fmt: skip
    notice = ShipNotice(po_id=po.id, document_id=document_id, shipment_id=data.shipment_id, ship_date=data.ship_date,
                        expected_date=data.expected_date, carrier=data.carrier, tracking_number=data.tracking_number,
                        received_at=clock.now())  # fmt: skip
    session.add(notice)
    session.flush()
    for number, qty in data.lines:
        session.add(ShipNoticeLine(notice_id=notice.id, line_number=number, quantity=qty))
    audit.record(session, actor, "po.ship_notice", "purchase_order", po.po_number,
                 after={"shipment": data.shipment_id, "lines": dict(data.lines), "carrier": data.carrier,
                        "tracking": data.tracking_number, "expected": str(data.expected_date or "")},
                 clock=clock)  # fmt: skip
    return notice


def shipped_by_line(session: Session, po_id: int) -> dict[int, int]:
    rows = session.execute(
        select(ShipNoticeLine.line_number, func.sum(ShipNoticeLine.quantity))
        .join(ShipNotice, ShipNotice.id == ShipNoticeLine.notice_id)
        .where(ShipNotice.po_id == po_id)
        .group_by(ShipNoticeLine.line_number)
    ).all()
    return {int(n): int(q) for n, q in rows}


def expected(session: Session, po_id: int) -> dict[int, Expected]:
    """Per line: announced, received, and the latest expected date (empty when nothing was announced)."""
    shipped = shipped_by_line(session, po_id)
    if not shipped:
        return {}
    latest = session.scalar(select(func.max(func.coalesce(ShipNotice.expected_date, ShipNotice.ship_date)))
                            .where(ShipNotice.po_id == po_id))  # fmt: skip
    received = {int(n): int(q) for n, q in session.execute(
        select(PurchaseOrderLine.line_number, PurchaseOrderLine.received_qty).where(PurchaseOrderLine.po_id == po_id))}
    return {n: Expected(n, q, int(received.get(n, 0)), latest) for n, q in shipped.items()}
