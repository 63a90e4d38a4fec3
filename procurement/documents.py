"""The frozen document context of a PO (parties, lines, totals, approval) shared by the PDF, CSV and cXML."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CostCenter, Item, Site
from procurement.models import PurchaseOrderLine, Supplier, SupplierItem
from procurement.orders import get_po, site_settings, totals_for


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    lines: tuple[str, ...] = ()
    code: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class LineRow:
    line_number: int
    sku: str
    supplier_part_number: str
    description: str
    quantity: int
    unit: str
    unit_price: Decimal
    extended: Decimal
    received: int = 0
    category: str = ""


@dataclass(frozen=True, slots=True)
class PoContext:
    po_number: str
    status: str
    currency: str
    order_date: datetime
    buyer: Party
    supplier: Party
    ship_to: Party
    lines: tuple[LineRow, ...]
    subtotal: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    terms: str
    approved_by: str | None
    approved_at: datetime | None
    cost_center: str = ""
    notes: str = ""
    country: str = ""  # the ship-to site's ISO 3166-1 alpha-2 code ("" until an admin sets it)


def build_context(session: Session, po_number: str) -> PoContext:
    po = get_po(session, po_number)
    supplier = session.get(Supplier, po.supplier_id)
    site = session.get(Site, po.site_id)
    assert supplier is not None and site is not None
    settings = site_settings(session, po.site_id)
    rows = session.execute(
        select(PurchaseOrderLine, Item, SupplierItem)
        .join(Item, Item.id == PurchaseOrderLine.item_id)
        .outerjoin(SupplierItem, SupplierItem.id == PurchaseOrderLine.supplier_item_id)
        .where(PurchaseOrderLine.po_id == po.id)
        .order_by(PurchaseOrderLine.line_number)
    ).all()
    lines = tuple(
        LineRow(
            line.line_number, item.sku, si.supplier_part_number if si else "", (si.description if si else "")
            or item.name, line.quantity, (si.unit_of_measure if si else item.unit_of_measure), line.unit_price,
            (line.unit_price * line.quantity).quantize(Decimal("0.01")), line.received_qty, item.category,
        )
        for line, item, si in rows
    )  # fmt: skip
    totals = totals_for(sum((r.unit_price * r.quantity for r in lines), Decimal("0")), po.tax_rate)
    cc = session.get(CostCenter, po.cost_center_id) if po.cost_center_id else None
    address = tuple(x for x in site.ship_to_address.splitlines() if x.strip())
    return PoContext(
        po_number=po.po_number, status=po.status, currency=po.currency, order_date=po.created_at,
        buyer=Party(po.buyer_name or settings.buyer_name, address, site.code),
        supplier=Party(supplier.name, tuple(x for x in supplier.address.splitlines() if x.strip()), supplier.code,
                       supplier.email),
        ship_to=Party(site.name, address, site.code), lines=lines, subtotal=totals.subtotal,
        tax_rate=po.tax_rate, tax=totals.tax, total=totals.total, terms=supplier.payment_terms,
        approved_by=po.approved_by, approved_at=po.approved_at, cost_center=cc.code if cc else "", notes=po.notes,
        country=site.country,
    )  # fmt: skip


def actor_name(actor: str | None) -> str:
    """'user:alice' → 'alice'; 'system:auto-approve' → 'automatic approval (within policy)'."""
    if not actor:
        return ""
    if actor.startswith("system:auto-approve"):
        return "automatic approval (within policy)"
    return actor.split(":", 1)[-1]


CSV_COLUMNS = (
    "po_number", "supplier_code", "currency", "line", "sku", "supplier_part_number", "description", "quantity",
    "unit", "unit_price", "extended",
)  # fmt: skip


def to_csv(ctx: PoContext) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in ctx.lines:
        writer.writerow(
            [ctx.po_number, ctx.supplier.code, ctx.currency, r.line_number, _safe(r.sku), _safe(r.supplier_part_number),
             _safe(r.description), r.quantity, r.unit, f"{r.unit_price:.4f}", f"{r.extended:.2f}"]
        )  # fmt: skip
    return out.getvalue()


def _safe(text: str) -> str:
    """Defuse spreadsheet formulas in exported text cells."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
