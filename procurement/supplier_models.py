"""Supplier-document tables: per-supplier profiles (cXML identities, CSV layout), inbound documents as received,
acknowledgements, ship notices, invoices, and the one-use record of each signed supplier link."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Money, UTCDateTime
from procurement.supplier_inbound.states import ACK, INVOICE


class SupplierProfile(Base):
    """How one supplier wants its documents: cXML credentials (the SharedSecret Fernet-encrypted) and CSV layout."""

    __tablename__ = "proc_supplier_profile"

    supplier_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier.id"), primary_key=True)
    from_domain: Mapped[str] = mapped_column(String(40), default="NetworkID")
    from_identity: Mapped[str] = mapped_column(String(100), default="")
    to_domain: Mapped[str] = mapped_column(String(40), default="NetworkID")
    to_identity: Mapped[str] = mapped_column(String(100), default="")
    sender_domain: Mapped[str] = mapped_column(String(40), default="NetworkID")
    sender_identity: Mapped[str] = mapped_column(String(100), default="")
    shared_secret_enc: Mapped[str] = mapped_column(Text, default="")  # Fernet token; "" when none is set
    csv_columns: Mapped[str] = mapped_column(Text, default="")  # "field=Header,field=Header"; "" = the standard set
    csv_delimiter: Mapped[str] = mapped_column(String(1), default=",")
    csv_bom: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SupplierLinkUse(Base):
    """A signed supplier link answered once per purpose: the unique pair refuses a second answer."""

    __tablename__ = "proc_supplier_link_use"
    __table_args__ = (UniqueConstraint("nonce", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(20))  # acknowledgement | ship_notice
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remote: Mapped[str] = mapped_column(String(64), default="")


class InboundDocument(Base):
    """Every document a supplier sent, as received (accepted or not), with the outcome."""

    __tablename__ = "proc_inbound_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # link | cxml | csv | manual
    kind: Mapped[str] = mapped_column(String(20))  # confirmation | ship_notice | invoice | unknown
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("proc_supplier.id"), nullable=True)
    po_id: Mapped[int | None] = mapped_column(ForeignKey("proc_purchase_order.id"), nullable=True, index=True)
    payload_id: Mapped[str] = mapped_column(String(250), default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(String(10))  # accepted | refused
    error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Acknowledgement(Base):
    """A supplier's answer to an order (confirm, reject, or change per line) and the buyer's decision on it."""

    __tablename__ = "proc_acknowledgement"
    __table_args__ = (ACK.check_constraint("status", "ack_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("proc_inbound_document.id"))
    response: Mapped[str] = mapped_column(String(10))  # AckResponse
    status: Mapped[str] = mapped_column(String(20))  # AckStatus
    comment: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_comment: Mapped[str] = mapped_column(Text, default="")


class AcknowledgementLine(Base):
    __tablename__ = "proc_ack_line"
    __table_args__ = (UniqueConstraint("ack_id", "line_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ack_id: Mapped[int] = mapped_column(ForeignKey("proc_acknowledgement.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))  # accept | reject | change
    quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class ShipNotice(Base):
    """An advance shipping notice: what the supplier says is on its way, per line."""

    __tablename__ = "proc_ship_notice"
    __table_args__ = (UniqueConstraint("po_id", "shipment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("proc_inbound_document.id"))
    shipment_id: Mapped[str] = mapped_column(String(64))
    ship_date: Mapped[date] = mapped_column(Date)
    expected_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    carrier: Mapped[str] = mapped_column(String(100), default="")
    tracking_number: Mapped[str] = mapped_column(String(100), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShipNoticeLine(Base):
    __tablename__ = "proc_ship_notice_line"
    __table_args__ = (UniqueConstraint("notice_id", "line_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("proc_ship_notice.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)


class Invoice(Base):
    """A supplier invoice against one PO, matched to the order and its receipts line by line."""

    __tablename__ = "proc_invoice"
    __table_args__ = (
        UniqueConstraint("supplier_id", "invoice_number"),
        INVOICE.check_constraint("status", "invoice_status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("proc_supplier.id"))
    po_id: Mapped[int] = mapped_column(ForeignKey("proc_purchase_order.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(64))
    invoice_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(10), index=True)  # InvoiceStatus
    source: Mapped[str] = mapped_column(String(10))  # manual | csv | cxml
    document_id: Mapped[int | None] = mapped_column(ForeignKey("proc_inbound_document.id"), nullable=True)
    hold_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoiceLine(Base):
    __tablename__ = "proc_invoice_line"
    __table_args__ = (UniqueConstraint("invoice_id", "line_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("proc_invoice.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
