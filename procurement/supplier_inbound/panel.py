"""What the PO page shows about the supplier side: answers, ship notices (expected quantities), invoices,
and the inbound documents; one read per table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from procurement.models import (
    Acknowledgement,
    AcknowledgementLine,
    InboundDocument,
    Invoice,
    InvoiceLine,
    ShipNotice,
    ShipNoticeLine,
)
from procurement.orders import get_po
from procurement.supplier_inbound import asn
from procurement.supplier_inbound.states import ACK_LABELS, AckStatus


@dataclass(frozen=True, slots=True)
class AckRow:
    id: int
    status: str
    label: str
    response: str
    comment: str
    received_at: object
    decided_by: str
    decision_comment: str
    lines: tuple[AcknowledgementLine, ...]


@dataclass(frozen=True, slots=True)
class SupplierPanel:
    acks: tuple[AckRow, ...]
    notices: tuple[tuple[ShipNotice, tuple[ShipNoticeLine, ...]], ...]
    expected: dict[int, asn.Expected]
    invoices: tuple[tuple[Invoice, tuple[InvoiceLine, ...]], ...]
    documents: tuple[InboundDocument, ...]
    po_status: str


def panel(session: Session, po_number: str) -> SupplierPanel:
    po = get_po(session, po_number)
    acks = session.scalars(select(Acknowledgement).where(Acknowledgement.po_id == po.id)
                           .order_by(Acknowledgement.id.desc())).all()  # fmt: skip
    ack_lines = session.scalars(select(AcknowledgementLine).where(
        AcknowledgementLine.ack_id.in_([a.id for a in acks] or [0])).order_by(AcknowledgementLine.line_number)).all()
    notices = session.scalars(select(ShipNotice).where(ShipNotice.po_id == po.id).order_by(ShipNotice.id)).all()
    notice_lines = session.scalars(select(ShipNoticeLine).where(
        ShipNoticeLine.notice_id.in_([n.id for n in notices] or [0]))).all()  # fmt: skip
    bills = session.scalars(select(Invoice).where(Invoice.po_id == po.id).order_by(Invoice.id)).all()
    bill_lines = session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_([b.id for b in bills] or [0]))
                                 .order_by(InvoiceLine.line_number)).all()  # fmt: skip
    documents = session.scalars(select(InboundDocument).where(InboundDocument.po_id == po.id)
                                .order_by(InboundDocument.id)).all()  # fmt: skip
    return SupplierPanel(
        tuple(AckRow(a.id, a.status, ACK_LABELS.get(AckStatus(a.status), a.status), a.response, a.comment,
                     a.received_at, a.decided_by, a.decision_comment,
                     tuple(x for x in ack_lines if x.ack_id == a.id and x.action != "accept")) for a in acks),
        tuple((n, tuple(x for x in notice_lines if x.notice_id == n.id)) for n in notices),
        asn.expected(session, po.id),
        tuple((b, tuple(x for x in bill_lines if x.invoice_id == b.id)) for b in bills),
        tuple(documents), po.status,
    )  # fmt: skip
