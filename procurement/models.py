"""Procurement tables: stock view, demand aggregates, suppliers, policies, purchase orders, approvals, sends."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Money, UTCDateTime
from procurement.equipment_states import REQUEST_STATES
from procurement.po_states import PO_STATES
from procurement.transmission_states import TRANSMISSION


def Rate() -> Numeric[Decimal]:
    """A ratio or percentage (0.0725 tax, 0.95 service level, 10 %)."""
    return Numeric(8, 4, asdecimal=True)


# ---- procurement's own view of stock, fed by events ---------------------------------------------


class StockView(Base):
    """On hand per (item, site) as procurement last heard it; `dirty` asks for a replenishment look."""

    __tablename__ = "proc_stock_view"
    __table_args__ = (UniqueConstraint("item_id", "site_id"), Index("ix_proc_stock_view_dirty", "dirty"),
                      Index("ix_proc_stock_view_on_hand", "on_hand", "item_id", "site_id"))  # fmt: skip  # 0011

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    level_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    dirty_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DemandDay(Base):
    """Dispensed quantity per (item, site, day): the aggregate the reorder point reads, kept incrementally."""

    __tablename__ = "proc_demand_day"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)


class DemandStat(Base):
    """Rolling sums over the last `window_days` days per (item, site): Σq and Σq² of the daily totals."""

    __tablename__ = "proc_demand_stat"
    # SQLite stores the rows in key order (migration procurement_0010): a replenishment reads them by (item, site)
    __table_args__ = ({"sqlite_with_rowid": False},)

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer, default=90)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date, index=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    total_sq: Mapped[int] = mapped_column(BigInteger, default=0)


# ---- suppliers -------------------------------------------------------------------------------------


class Supplier(Base):
    __tablename__ = "proc_supplier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    payment_terms: Mapped[str] = mapped_column(String(200), default="Net 30")
    address: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")  # PDF/e-mail; "" = English


class SupplierItem(Base):
    __tablename__ = "proc_supplier_item"
    __table_args__ = (UniqueConstraint("supplier_id", "supplier_part_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    supplier_part_number: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300), default="")
    pack_qty: Mapped[int] = mapped_column(Integer, default=1)
    unit_of_measure: Mapped[str] = mapped_column(String(16), default="EA")
    moq: Mapped[int] = mapped_column(Integer, default=1)
    order_multiple: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    unspsc: Mapped[str] = mapped_column(String(8), default="", server_default="")  # UNSPSC commodity code
    gtin: Mapped[str | None] = mapped_column(String(14), nullable=True, index=True)  # of the pack, 14 digits


class PriceBreak(Base):
    __tablename__ = "proc_price_break"
    __table_args__ = (UniqueConstraint("supplier_item_id", "min_qty"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_item_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier_item.id", ondelete="CASCADE"))
    min_qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())


# ---- policy and configuration ---------------------------------------------------------------------


class ReorderPolicy(Base):
    """How one item is replenished at one site: min_max, reorder_level or auto_rop."""

    __tablename__ = "proc_reorder_policy"
    # The highest min, reorder level and service level per kind, read from partial indexes (procurement_0011).
    __table_args__ = (UniqueConstraint("item_id", "site_id"), *(
        Index(f"ix_proc_reorder_policy_top_{name}", column, sqlite_where=text(f"kind = '{kind}'"),
              postgresql_where=text(f"kind = '{kind}'"))
        for name, column, kind in (("min", "min_qty", "min_max"), ("level", "reorder_level", "reorder_level"),
                                   ("service", "service_level", "auto_rop"))))  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[str] = mapped_column(String(16), default="min_max")
    min_qty: Mapped[int] = mapped_column(Integer, default=0)
    max_qty: Mapped[int] = mapped_column(Integer, default=0)
    reorder_level: Mapped[int] = mapped_column(Integer, default=0)
    reorder_qty: Mapped[int] = mapped_column(Integer, default=0)
    lookback_days: Mapped[int] = mapped_column(Integer, default=90)
    service_level: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0.95"))
    cover_days: Mapped[int] = mapped_column(Integer, default=14)
    order_cost: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    holding_rate: Mapped[Decimal | None] = mapped_column(Rate(), nullable=True)
    cost_center_id: Mapped[int | None] = mapped_column(ForeignKey("cost_center.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SiteProcurementSettings(Base):
    """Per-site knobs: auto-approval limit, price tolerance, re-approval rise, over-receipt tolerance, tax."""

    __tablename__ = "proc_site_settings"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    auto_approve_limit: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    price_tolerance_pct: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("10"))
    reapproval_rise_pct: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("10"))
    over_receipt_pct: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("5"))
    tax_rate: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0"))
    buyer_name: Mapped[str] = mapped_column(String(200), default="vendtrack Purchasing")
    # the buyer's contact printed on documents and used as the e-mail Reply-To
    buyer_email: Mapped[str] = mapped_column(String(200), default="", server_default="")
    buyer_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # the ship-to postal address as cXML wants it (the site's free-text address stays for the PDF)
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    state: Mapped[str] = mapped_column(String(100), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    # three-way match tolerances for supplier invoices
    invoice_price_tolerance_pct: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("2"), server_default="2")
    invoice_qty_tolerance_pct: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0"), server_default="0")


class ReviewSwitch(Base):
    """Review-before-order per (site, category); absent means review is on."""

    __tablename__ = "proc_review_switch"
    __table_args__ = (UniqueConstraint("site_id", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    category: Mapped[str] = mapped_column(String(64))
    review: Mapped[bool] = mapped_column(Boolean, default=True)


class ApprovalRule(Base):
    """A level of approval that applies when amount, category, cost center and site all match."""

    __tablename__ = "proc_approval_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer, default=1)
    min_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cost_center_id: Mapped[int | None] = mapped_column(ForeignKey("cost_center.id"), nullable=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    approver_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    approver_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Budget(Base):
    __tablename__ = "proc_budget"
    __table_args__ = (UniqueConstraint("cost_center_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cost_center_id: Mapped[int] = mapped_column(ForeignKey("cost_center.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[Decimal] = mapped_column(Money())
    mode: Mapped[str] = mapped_column(String(8), default="warn")  # stop | warn


# ---- purchase orders -----------------------------------------------------------------------------


class PurchaseOrder(Base):
    __tablename__ = "proc_purchase_order"
    __table_args__ = (PO_STATES.check_constraint("status", name="po_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_number: Mapped[str] = mapped_column(String(32), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), index=True)
    origin: Mapped[str] = mapped_column(String(8), default="manual")  # system | manual
    requester: Mapped[str] = mapped_column(String(100))
    last_editor: Mapped[str] = mapped_column(String(100))
    cost_center_id: Mapped[int | None] = mapped_column(ForeignKey("cost_center.id"), nullable=True)
    tax_rate: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0"))
    notes: Mapped[str] = mapped_column(Text, default="")
    # the site's buyer name when the order was submitted ("" for older orders: the site's current name is shown)
    buyer_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    warnings: Mapped[str] = mapped_column(Text, default="")
    approval_levels: Mapped[str] = mapped_column(String(100), default="")  # e.g. "1,2"
    approval_round: Mapped[int] = mapped_column(Integer, default=0)
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_total: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    approved_supplier_id: Mapped[int | None] = mapped_column(ForeignKey("proc_supplier.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # how an order placed outside vendtrack's e-mail went out (phone, portal, edi, email), when and by whom
    ordered_via: Mapped[str] = mapped_column(String(16), default="", server_default="")
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    requested_delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class DraftSlot(Base):
    """The one open system draft per (supplier, ship-to site, currency): the unique guard against twins."""

    __tablename__ = "proc_draft_slot"
    __table_args__ = (UniqueConstraint("supplier_id", "site_id", "currency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    currency: Mapped[str] = mapped_column(String(3))
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), unique=True)


class PurchaseOrderLine(Base):
    __tablename__ = "proc_po_line"
    __table_args__ = (UniqueConstraint("po_id", "line_number"), UniqueConstraint("po_id", "item_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"))  # indexed by the unique (po_id, ...)
    line_number: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    supplier_item_id: Mapped[int | None] = mapped_column(ForeignKey("proc_supplier_item.id"), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    received_qty: Mapped[int] = mapped_column(Integer, default=0)
    closed_qty: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: the order's date
    promised_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # the supplier's, once accepted


class Approval(Base):
    __tablename__ = "proc_approval"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(10))  # approved | rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    round: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class PoDocument(Base):
    """The exact bytes rendered (and sent) for a PO, with their SHA-256."""

    __tablename__ = "proc_po_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="pdf")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Transmission(Base):
    """One series of attempts to deliver a PO to its supplier (e-mail), claimed by one process at a time.

    status: queued (waiting for `next_attempt_at`) | sending (claimed at `claimed_at` by `claim_token`) |
    sent | failed (gave up: a person sends again). `message_id` is fixed when the row is created and kept
    across retries, so the supplier's mail system can recognise a resend of the same order.
    """

    __tablename__ = "proc_transmission"
    __table_args__ = (
        Index("ix_proc_transmission_due", "status", "next_attempt_at"),
        TRANSMISSION.check_constraint("status", "transmission_status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    recipient: Mapped[str] = mapped_column(String(200))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("proc_po_document.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10))  # TransmissionStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    requested_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Receipt(Base):
    __tablename__ = "proc_receipt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("proc_po_line.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    lot: Mapped[str] = mapped_column(String(20), default="", server_default="")  # from a scanned label
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)


class EquipmentRequest(Base):
    """A purchase request for equipment tracking could not rebalance (a site-wide PAR shortfall), with its reason."""

    __tablename__ = "proc_equipment_request"
    __table_args__ = (REQUEST_STATES.check_constraint("status", name="equipment_request_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # the EquipmentShortfall it came from
    site_code: Mapped[str] = mapped_column(String(32), default="")
    asset_type: Mapped[str] = mapped_column(String(64), index=True)
    type_label: Mapped[str] = mapped_column(String(100), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    problem: Mapped[str] = mapped_column(Text, default="", server_default="")  # why it is not ordered yet
    po_number: Mapped[str] = mapped_column(String(32), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


class ProcurementLock(Base):
    """Named rows locked FOR UPDATE to serialise runs (e.g. replenishment) across processes."""

    __tablename__ = "proc_lock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)


from procurement.supplier_models import (  # noqa: E402 - the supplier-document tables live in their own module
    Acknowledgement,
    AcknowledgementLine,
    InboundDocument,
    Invoice,
    InvoiceLine,
    ShipNotice,
    ShipNoticeLine,
    SupplierLinkUse,
    SupplierProfile,
)

__all__ = [
    "Acknowledgement", "AcknowledgementLine", "InboundDocument", "Invoice", "InvoiceLine", "ShipNotice",
    "ShipNoticeLine", "SupplierLinkUse", "SupplierProfile",
]  # fmt: skip
