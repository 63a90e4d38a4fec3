"""The frozen document context of a PO (parties, lines, totals, approval) shared by the PDF, CSV and cXML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CostCenter, Item, Site
from core.texts import N_
from procurement.models import PurchaseOrderLine, SiteProcurementSettings, Supplier, SupplierItem
from procurement.orders import get_po, site_settings, totals_for


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    lines: tuple[str, ...] = ()
    code: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """The parts a structured address (cXML) needs; the free-text lines stay on `Party` for the PDF."""

    street: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2, "" when unset


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
    requested_date: date | None = None  # set only where it differs from the order's requested delivery date
    unspsc: str = ""
    promised_date: date | None = None


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
    requested_delivery_date: date | None = None
    ship_to_postal: PostalAddress | None = None
    supplier_id: int = 0
    document_date: datetime | None = None  # when the content last changed (approval, else the last edit)
    language: str = ""  # the supplier's ("" = English): the PDF's and the e-mail's words and formats

    @property
    def is_order(self) -> bool:
        """Approved (or further along): a binding order, not a draft."""
        return self.status in ORDER_STATUSES and self.approved_by is not None


ORDER_STATUSES = ("approved", "sent", "partly_received", "received", "closed")


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
            line.requested_delivery_date if line.requested_delivery_date != po.requested_delivery_date else None,
            si.unspsc if si else "", line.promised_date,
        )
        for line, item, si in rows
    )  # fmt: skip
    totals = totals_for(sum((r.unit_price * r.quantity for r in lines), Decimal("0")), po.tax_rate)
    cc = session.get(CostCenter, po.cost_center_id) if po.cost_center_id else None
    address = tuple(x for x in site.ship_to_address.splitlines() if x.strip())
    return PoContext(
        po_number=po.po_number, status=po.status, currency=po.currency, order_date=po.created_at,
        buyer=Party(po.buyer_name or settings.buyer_name, address, site.code, settings.buyer_email,
                    settings.buyer_phone),
        supplier=Party(supplier.name, tuple(x for x in supplier.address.splitlines() if x.strip()), supplier.code,
                       supplier.email),
        ship_to=Party(site.name, address, site.code), lines=lines, subtotal=totals.subtotal,
        tax_rate=po.tax_rate, tax=totals.tax, total=totals.total, terms=supplier.payment_terms,
        approved_by=po.approved_by, approved_at=po.approved_at, cost_center=cc.code if cc else "", notes=po.notes,
        country=site.country, requested_delivery_date=po.requested_delivery_date,
        ship_to_postal=postal_address(site, settings), supplier_id=supplier.id,
        document_date=po.approved_at or po.updated_at, language=supplier.language,
    )  # fmt: skip


def postal_address(site: Site, settings: SiteProcurementSettings) -> PostalAddress:
    """The structured ship-to address: the site settings' parts, else the free-text lines (last line = city)."""
    lines = [x.strip() for x in site.ship_to_address.splitlines() if x.strip()]
    if settings.street or settings.city:
        street = tuple(x.strip() for x in settings.street.splitlines() if x.strip())
        return PostalAddress(street, settings.city, settings.state, settings.postal_code, site.country.upper())
    street, city = (tuple(lines[:-1]), lines[-1]) if len(lines) > 1 else (tuple(lines), "")
    return PostalAddress(street, city, "", "", site.country.upper())


def actor_name(actor: str | None, translate: Callable[..., str] | None = None) -> str:
    """'user:alice' → 'alice'; 'system:auto-approve' → 'automatic approval (within policy)', through `translate`
    (the document's or the page's gettext) when given."""
    if not actor:
        return ""
    if actor.startswith("system:auto-approve"):
        words = N_("automatic approval (within policy)")
        return translate(words) if translate is not None else words
    return actor.split(":", 1)[-1]
