"""Receiving by scan: a supplier's label (GS1-128 / DataMatrix, or a plain part number) matched to an open PO line.

A GS1 label's GTIN is looked up first as the supplier's pack GTIN on the order's supplier items (the
received quantity is then count × pack quantity), then as the item's own unit GTIN; a bare EAN/UPC/GTIN
scan is a GTIN too. A label without a GTIN, or any other plain scan, is matched by the supplier's part
number (AI 241/240 or the whole scan). The batch and expiry on the label travel with the receipt and the
StockReceived event. An expired label is refused with the date, so expired goods never reach a machine
by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale, gettext, lazy_gettext
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core import gs1, notes
from core.clock import Clock
from core.errors import DomainError
from core.models import Item
from core.notes import N_, Note
from procurement.models import PurchaseOrderLine, SupplierItem
from procurement.orders import get_po
from procurement.receiving import Lot, receive

MAX_COUNT = 100_000


@dataclass(frozen=True, slots=True)
class OpenLine:
    line_number: int
    sku: str
    open_quantity: int
    pack_qty: int
    supplier_part_number: str
    pack_gtin: str | None
    unit_gtin: str | None


@dataclass(frozen=True, slots=True)
class ScanMatch:
    """Which line a scan belongs to, how many units it books, and why."""

    line_number: int
    sku: str
    quantity: int
    lot: Lot
    reason: str


def open_lines(session: Session, po_id: int, supplier_id: int) -> list[OpenLine]:
    """Every line with its supplier item (the line's own, else the supplier's best offer for the item)."""
    offer = or_(
        SupplierItem.id == PurchaseOrderLine.supplier_item_id,
        and_(PurchaseOrderLine.supplier_item_id.is_(None), SupplierItem.item_id == PurchaseOrderLine.item_id,
             SupplierItem.supplier_id == supplier_id),
    )  # fmt: skip
    rows = session.execute(
        select(PurchaseOrderLine.line_number, PurchaseOrderLine.quantity, PurchaseOrderLine.received_qty,
               PurchaseOrderLine.closed_qty, Item.sku, Item.gtin.label("unit_gtin"), SupplierItem.pack_qty,
               SupplierItem.supplier_part_number, SupplierItem.gtin.label("pack_gtin"))
        .join(Item, Item.id == PurchaseOrderLine.item_id)
        .outerjoin(SupplierItem, offer)
        .where(PurchaseOrderLine.po_id == po_id)
        .order_by(PurchaseOrderLine.line_number, SupplierItem.priority.desc(), SupplierItem.id)
    ).mappings()  # fmt: skip
    lines: dict[int, OpenLine] = {}
    for row in rows:
        lines.setdefault(row["line_number"], OpenLine(
            row["line_number"], row["sku"], row["quantity"] - row["received_qty"] - row["closed_qty"],
            row["pack_qty"] or 1, row["supplier_part_number"] or "", row["pack_gtin"], row["unit_gtin"]))  # fmt: skip
    return list(lines.values())


def match(session: Session, po_number: str, scan: str, today: date) -> ScanMatch:
    """The open line of `po_number` that `scan` belongs to, or a DomainError naming what was scanned and the lines."""
    text = scan.strip()
    if not text:
        raise DomainError(lazy_gettext("scan a label (or type its part number) first"), field="scan")
    po = get_po(session, po_number)
    lines = [line for line in open_lines(session, po.id, po.supplier_id) if line.open_quantity > 0]
    if not lines:
        raise DomainError(lazy_gettext("%(po_number)s has nothing left to receive", po_number=po_number), field="scan")
    label = gs1.parse(text, today=today) if gs1.looks_like_gs1(text) else None
    if label is not None and label.expiry is not None and label.expiry < today:
        raise DomainError(lazy_gettext("the label says this lot (%(batch)s) expired on %(expiry)s: refuse the "
                                       "delivery, or receive it by hand with a note",
                                       batch=label.batch or lazy_gettext("no batch"),
                                       expiry=format(label.expiry, "%Y-%m-%d")), field="scan")  # fmt: skip
    count = label.count if label is not None and label.count is not None else 1
    if not 0 < count <= MAX_COUNT:
        raise DomainError(
            lazy_gettext("the label's count %(count)s is outside 1 to %(max_count)s", count=count, max_count=MAX_COUNT),
            field="scan",
        )
    lot = Lot(label.batch or "", label.expiry) if label is not None else Lot()
    gtin = label.gtin if label is not None else (gs1.normalise_gtin(text) if gs1.valid_gtin(text) else None)
    found = _by_gtin(lines, gtin) if gtin else None
    if found is not None:
        line, per_label, how = found
        return ScanMatch(line.line_number, line.sku, count * per_label, lot, how)
    part = _part_number(label, text)
    for line in lines:
        if part and line.supplier_part_number.casefold() == part.casefold():
            return ScanMatch(line.line_number, line.sku, count * line.pack_qty, lot,
                             lazy_gettext("supplier part number %(part)s is line %(line)s (%(sku)s), %(pack)s per "
                                          "pack", part=line.supplier_part_number, line=line.line_number,
                                          sku=line.sku, pack=line.pack_qty))  # fmt: skip
    raise DomainError(_no_match(po_number, label, part, lines), field="scan")


def receive_scan(session: Session, po_number: str, scan: str, actor: str, clock: Clock,
                 quantity: int | None = None) -> tuple[ScanMatch, str]:  # fmt: skip
    """Match the scan and book it (or `quantity` units of the matched line); returns the match and the PO status."""
    found = match(session, po_number, scan, clock.now().date())
    units = quantity if quantity is not None else found.quantity
    status = receive(session, po_number, {found.line_number: units}, actor, clock,
                     note=_scan_note(found.reason), lots={found.line_number: found.lot})  # fmt: skip
    return ScanMatch(found.line_number, found.sku, units, found.lot, found.reason), status


def _by_gtin(lines: list[OpenLine], gtin: str) -> tuple[OpenLine, int, str] | None:
    for line in lines:
        if line.pack_gtin == gtin:
            return line, line.pack_qty, lazy_gettext("pack GTIN %(gtin)s is line %(line)s (%(sku)s), %(pack)s per "
                                                     "pack", gtin=gtin, line=line.line_number, sku=line.sku,
                                                     pack=line.pack_qty)  # fmt: skip
    for line in lines:
        if line.unit_gtin == gtin:
            return line, 1, lazy_gettext("unit GTIN %(gtin)s is line %(line)s (%(sku)s)", gtin=gtin,
                                         line=line.line_number, sku=line.sku)  # fmt: skip
    return None


def _part_number(label: gs1.Gs1Label | None, text: str) -> str:
    if label is None:
        return text
    return label.customer_part_number or label.additional_id or ""


def _no_match(po_number: str, label: gs1.Gs1Label | None, part: str, lines: list[OpenLine]) -> str:
    if label is not None and label.gtin:
        scanned = gettext("GTIN %(gtin)s", gtin=label.gtin)
    else:
        scanned = gettext("part number %(part)s", part=repr(part))
    known = "; ".join(
        gettext("line %(line)s %(sku)s (part %(part)s, GTIN %(gtin)s)", line=line.line_number, sku=line.sku,
                part=line.supplier_part_number or "-",
                gtin=line.pack_gtin or line.unit_gtin or gettext("not recorded"))
        for line in lines[:10]
    )  # fmt: skip
    return lazy_gettext("%(scanned)s matches no open line of %(po_number)s: %(known)s. Check the delivery is for this"
                        " order, or record the GTIN on the supplier item", scanned=scanned, po_number=po_number,
                        known=known)  # fmt: skip


def _scan_note(reason: str) -> str:
    """The receipt's note, a stored note (core/notes.py): every later reader sees it in their own language."""
    with force_locale("en"):  # text that is not a marked message stays English, whoever scanned
        return Note.of(N_("received by scan: %(reason)s"), reason=notes.from_message(reason)).encode()
