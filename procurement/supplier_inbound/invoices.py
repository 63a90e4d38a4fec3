"""Supplier invoices and the three-way match: each invoice line against its PO line (price) and the goods
received (quantity), within the site's tolerances. A mismatch holds the invoice for a person, with the reason
per line; matched (or approved) invoices export as CSV for payment."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit, notes
from core.clock import Clock
from core.errors import Conflict, DomainError, NotFound
from core.note_values import Number
from core.notes import N_, Note
from procurement.models import Invoice, InvoiceLine, PurchaseOrder, PurchaseOrderLine, Supplier
from procurement.orders import get_po, site_settings
from procurement.po_states import status_words
from procurement.supplier_inbound.states import COUNTED, PAYABLE, InvoiceStatus, invoice_move

CENT = Decimal("0.01")
INVOICEABLE = ("sent", "partly_received", "received", "closed")


@dataclass(frozen=True, slots=True)
class InvoiceInput:
    supplier_code: str
    po_number: str
    invoice_number: str
    invoice_date: date
    currency: str
    lines: tuple[tuple[int, int, Decimal], ...]  # (PO line number, quantity, unit price)
    tax: Decimal = Decimal("0")


def record(session: Session, data: InvoiceInput, source: str, document_id: int | None, clock: Clock,
           actor: str) -> Invoice:  # fmt: skip
    """Store an invoice and match it at once: matched, or held with the reason per line."""
    supplier = session.scalar(select(Supplier).where(Supplier.code == data.supplier_code))
    if supplier is None:
        raise NotFound(
            lazy_gettext("no supplier %(supplier_code)s", supplier_code=repr(data.supplier_code[:40])),
            field="supplier_code",
        )
    po = get_po(session, data.po_number, lock=True)
    if po.supplier_id != supplier.id:
        raise DomainError(
            lazy_gettext("%(po_number)s was not ordered from %(code)s", po_number=po.po_number, code=supplier.code),
            field="po_number",
        )
    if po.status not in INVOICEABLE:
        raise Conflict(
            lazy_gettext(
                "%(po_number)s is %(status)s: it cannot be invoiced",
                po_number=po.po_number,
                status=status_words(po.status),
            ),
            field="status",
        )
    if data.currency.upper() != po.currency:
        raise DomainError(lazy_gettext("invoice currency %(currency)s differs from the order's %(order_currency)s",
                                       currency=repr(data.currency[:3]), order_currency=po.currency),
                          field="currency")  # fmt: skip
    if not data.invoice_number or not data.lines:
        raise DomainError(lazy_gettext("an invoice needs a number and at least one line"), field="invoice_number")
    if session.scalar(select(Invoice.id).where(Invoice.supplier_id == supplier.id,
                                               Invoice.invoice_number == data.invoice_number)):  # fmt: skip
        raise Conflict(
            lazy_gettext(
                "invoice %(invoice_number)s of %(code)s was already received",
                invoice_number=data.invoice_number,
                code=supplier.code,
            ),
            field="invoice_number",
        )
    numbers = [n for n, _, _ in data.lines]
    if len(set(numbers)) != len(numbers):
        raise DomainError(lazy_gettext("each PO line may appear once per invoice"), field="lines")
    subtotal = sum((q * p for _, q, p in data.lines), Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)
    now = clock.now()
    invoice = Invoice(supplier_id=supplier.id, po_id=po.id, invoice_number=data.invoice_number,
                      invoice_date=data.invoice_date, currency=po.currency, subtotal=subtotal, tax=data.tax,
                      total=subtotal + data.tax, status=InvoiceStatus.HELD, source=source, document_id=document_id,
                      created_at=now, updated_at=now)  # fmt: skip
    session.add(invoice)
    session.flush()
    for number, qty, price in data.lines:
        session.add(InvoiceLine(invoice_id=invoice.id, line_number=number, quantity=qty, unit_price=price))
    session.flush()
    _match(session, invoice, po)
    audit.record(session, actor, "invoice.received", "invoice", f"{supplier.code}/{invoice.invoice_number}",
                 after={"po": po.po_number, "status": invoice.status, "total": invoice.total,
                        "hold_reason": invoice.hold_reason}, clock=clock)  # fmt: skip
    return invoice


def _invoiced_elsewhere(session: Session, invoice: Invoice) -> dict[int, int]:
    rows = session.execute(
        select(InvoiceLine.line_number, func.sum(InvoiceLine.quantity))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.po_id == invoice.po_id, Invoice.id != invoice.id, Invoice.status.in_(COUNTED))
        .group_by(InvoiceLine.line_number)
    ).all()
    return {int(n): int(q) for n, q in rows}


def _match(session: Session, invoice: Invoice, po: PurchaseOrder) -> None:
    """Three-way match per line; sets each line's reason and the invoice's status (held or matched)."""
    settings = site_settings(session, po.site_id)
    price_tol, qty_tol = settings.invoice_price_tolerance_pct / 100, settings.invoice_qty_tolerance_pct / 100
    po_lines = {x.line_number: x for x in session.scalars(select(PurchaseOrderLine).where(
        PurchaseOrderLine.po_id == po.id))}  # fmt: skip
    earlier = _invoiced_elsewhere(session, invoice)
    reasons: list[Note] = []
    for line in session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                                .order_by(InvoiceLine.line_number)):  # fmt: skip
        reason = _line_reason(line, po_lines.get(line.line_number), earlier.get(line.line_number, 0),
                              price_tol, qty_tol)  # fmt: skip
        line.reason = reason.encode() if reason else ""  # stored notes (core/notes.py), shown with |shown
        line.matched = reason is None
        if reason is not None:
            reasons.append(Note.of(N_("line %(line)s: %(reason)s"), line=line.line_number, reason=reason))
    invoice.hold_reason = notes.joined(reasons).encode() if reasons else ""
    invoice.status = InvoiceStatus.HELD if reasons else InvoiceStatus.MATCHED


def _line_reason(line: InvoiceLine, po_line: PurchaseOrderLine | None, earlier: int, price_tol: Decimal,
                 qty_tol: Decimal) -> Note | None:  # fmt: skip
    """Why the line does not match the order and the receipts; None when it matches."""
    if po_line is None:
        return Note.of(N_("not on the order"))
    problems = []
    ceiling = (po_line.unit_price * (1 + price_tol)).quantize(Decimal("0.0001"))
    if line.unit_price > ceiling:
        rise = (line.unit_price - po_line.unit_price) / po_line.unit_price * 100 if po_line.unit_price else Decimal(100)
        problems.append(Note.of(N_("price %(price)s is %(rise)s %% over the order's %(ordered)s (tolerance "
                                   "%(tolerance)s %%)"), price=Number.of(line.unit_price, 2), rise=Number.of(rise, 1),
                                ordered=Number.of(po_line.unit_price, 2),
                                tolerance=Number.of(price_tol * 100, 1)))  # fmt: skip
    allowed = int(po_line.received_qty * (1 + qty_tol))
    if earlier + line.quantity > allowed:
        if earlier:
            problems.append(Note.of(
                N_("%(invoiced)s invoiced but %(received)s received, %(earlier)s invoiced before"),
                invoiced=line.quantity, received=po_line.received_qty, earlier=earlier))  # fmt: skip
        else:
            problems.append(Note.of(N_("%(invoiced)s invoiced but %(received)s received"),
                                    invoiced=line.quantity, received=po_line.received_qty))  # fmt: skip
    return notes.joined(problems) if problems else None


def _key(session: Session, invoice: Invoice) -> str:
    """The audit entity id of an invoice: SUPPLIER/NUMBER (numbers are unique per supplier only)."""
    return f"{session.scalar(select(Supplier.code).where(Supplier.id == invoice.supplier_id))}/{invoice.invoice_number}"


def _get(session: Session, invoice_id: int) -> tuple[Invoice, PurchaseOrder]:
    invoice = session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise NotFound(lazy_gettext("no invoice %(invoice_id)s", invoice_id=invoice_id), field="invoice_id")
    po = session.get(PurchaseOrder, invoice.po_id)
    assert po is not None
    return invoice, po


def rematch(session: Session, invoice_id: int, actor: str, clock: Clock) -> str:
    """Match a held invoice again (after receipts arrived); stays held, with fresh reasons, when it still differs."""
    invoice, po = _get(session, invoice_id)
    invoice_move(_named(invoice), invoice.status, InvoiceStatus.MATCHED)
    _match(session, invoice, po)
    invoice.updated_at = clock.now()
    audit.record(session, actor, "invoice.rematch", "invoice", _key(session, invoice),
                 after={"status": invoice.status, "hold_reason": invoice.hold_reason}, clock=clock)  # fmt: skip
    return invoice.status


def decide(session: Session, invoice_id: int, approve: bool, actor: str, clock: Clock, comment: str) -> str:
    """A person's decision on a held invoice: approve the difference for payment, or reject the invoice."""
    if not comment.strip():
        raise DomainError(lazy_gettext("say why: the decision on a held invoice is kept with it"), field="comment")
    invoice, _po = _get(session, invoice_id)
    target = InvoiceStatus.APPROVED if approve else InvoiceStatus.REJECTED
    invoice.status = invoice_move(_named(invoice), invoice.status, target)
    invoice.decided_by, invoice.decision_comment, invoice.updated_at = actor, comment[:2000], clock.now()
    audit.record(session, actor, f"invoice.{target.value}", "invoice", _key(session, invoice),
                 before={"hold_reason": invoice.hold_reason}, after={"status": target.value}, comment=comment[:500],
                 clock=clock)  # fmt: skip
    return invoice.status


EXPORT_COLUMNS = ("supplier_code", "invoice_number", "invoice_date", "po_number", "currency", "subtotal", "tax",
                  "total", "status", "approved_by")  # fmt: skip


def export_payable(session: Session, actor: str, clock: Clock) -> str:
    """CSV of every matched or approved invoice not exported yet; they become exported (once only)."""
    rows = session.execute(
        select(Invoice, Supplier.code, PurchaseOrder.po_number)
        .join(Supplier, Supplier.id == Invoice.supplier_id)
        .join(PurchaseOrder, PurchaseOrder.id == Invoice.po_id)
        .where(Invoice.status.in_(PAYABLE))
        .order_by(Invoice.id)
        .with_for_update(of=Invoice)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for invoice, code, po_number in rows:
        writer.writerow([code, invoice.invoice_number, invoice.invoice_date.isoformat(), po_number, invoice.currency,
                         f"{invoice.subtotal:.2f}", f"{invoice.tax:.2f}", f"{invoice.total:.2f}", invoice.status,
                         invoice.decided_by])  # fmt: skip
        invoice.status = invoice_move(_named(invoice), invoice.status, InvoiceStatus.EXPORTED)
        invoice.updated_at = clock.now()
    audit.record(session, actor, "invoice.export", "invoice", "payable",
                 after={"invoices": [f"{c}/{i.invoice_number}" for i, c, _ in rows]}, clock=clock)  # fmt: skip
    return out.getvalue()


def _named(invoice: Invoice) -> object:
    """How a refusal names the invoice, in the reader's language."""
    return lazy_gettext("invoice %(number)s", number=invoice.invoice_number)
