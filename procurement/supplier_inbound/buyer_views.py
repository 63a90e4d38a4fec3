"""The buyer's side of supplier documents: decisions on acknowledgements, invoices (entered, CSV, held, export),
requested delivery dates, supplier document profiles and UNSPSC codes, the site's document settings, and the
inbound documents as received. Adds the supplier panel to the PO page (`supplier_panel` in templates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from core import access, audit, notes
from core.errors import DomainError, NotFound
from core.roles import Role
from core.runtime import AppServices
from procurement.documents import build_context
from procurement.models import Acknowledgement, InboundDocument, Invoice, PurchaseOrder, PurchaseOrderLine, Supplier
from procurement.orders import get_po
from procurement.po_states import status_words
from procurement.supplier_inbound import acknowledge, fields, invoice_csv, invoices, panel
from procurement.supplier_inbound.states import CHANGES_SAID, INVOICE_LABELS, AckStatus, InvoiceStatus, ack_words

bp = Blueprint("procurement_supplier", __name__, url_prefix="/procurement", template_folder="templates")
BUYERS = (Role.PROCUREMENT, Role.ADMIN)
READERS = (Role.PROCUREMENT, Role.APPROVER, Role.ADMIN)
DECIDERS = (Role.APPROVER, Role.PROCUREMENT, Role.ADMIN)
MAX_UPLOAD = 2_000_000


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


def _actor() -> str:
    return str(g.principal.actor)


@bp.app_context_processor
def _panel_helper() -> dict[str, Any]:
    return {"supplier_panel": lambda po_number: panel.panel(_db(), po_number)}


def _back(po_number: str, message: str) -> Response:
    _db().commit()
    flash(message, "ok")
    return redirect(url_for("procurement.po_view", po_number=po_number) + "#supplier")  # type: ignore[return-value]


def _po_of_ack(ack_id: int) -> str:
    ack = _db().get(Acknowledgement, ack_id)
    if ack is None:
        raise NotFound(lazy_gettext("no acknowledgement %(ack_id)s", ack_id=ack_id), field="ack_id")
    po = _db().get(PurchaseOrder, ack.po_id)
    return str(po.po_number)


@bp.post("/acknowledgements/<int:ack_id>/decide")
@access.roles(*BUYERS)
def ack_decide(ack_id: int) -> Response:
    number = _po_of_ack(ack_id)
    accept = request.form.get("decision") == "accept"
    status = acknowledge.decide(_db(), ack_id, accept, _actor(), _services().clock, request.form.get("comment", ""))
    return _back(number, _changes_said(number, status))


def _changes_said(number: str, status: AckStatus) -> str:
    said = CHANGES_SAID.get(status) or ack_words(status.value)
    return gettext("%(po_number)s: supplier's changes %(status)s", po_number=number, status=said)


@bp.post("/acknowledgements/<int:ack_id>/approve")
@access.roles(Role.APPROVER, Role.ADMIN)
def ack_approve(ack_id: int) -> Response:
    number = _po_of_ack(ack_id)
    accept = request.form.get("decision") == "accept"
    status = acknowledge.approve_change(_db(), ack_id, accept, _actor(), frozenset(g.principal.roles),
                                        _services().clock, request.form.get("comment", ""))  # fmt: skip
    return _back(number, _changes_said(number, status))


@bp.post("/po/<po_number>/delivery-dates")
@access.roles(*BUYERS)
def delivery_dates(po_number: str) -> Response:
    """The order's requested delivery date and, where a line differs, the line's own (empty = none)."""
    session, form = _db(), request.form
    po = get_po(session, po_number, lock=True)
    if po.status not in ("draft", "pending_approval", "approved"):
        raise DomainError(lazy_gettext("%(po_number)s is %(status)s: dates change through the supplier's "
                                       "acknowledgement now", po_number=po_number, status=status_words(po.status)),
                          field="status")  # fmt: skip
    raw = (form.get("requested_delivery_date") or "").strip()
    po.requested_delivery_date = fields.day(raw, "requested_delivery_date") if raw else None
    for line in session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id)):
        value = (form.get(f"date_{line.line_number}") or "").strip()
        line.requested_delivery_date = fields.day(value, f"date_{line.line_number}") if value else None
    audit.record(session, _actor(), "po.requested_dates", "purchase_order", po_number,
                 after={"requested_delivery_date": raw}, clock=_services().clock)  # fmt: skip
    return _back(po_number, gettext("%(po_number)s: requested delivery dates saved", po_number=po_number))


def _invoice_lines(form: Any, po_number: str) -> tuple[tuple[int, int, Decimal], ...]:
    lines = []
    for r in build_context(_db(), po_number).lines:
        qty = (form.get(f"qty_{r.line_number}") or "").strip()
        if qty and qty != "0":
            price = form.get(f"price_{r.line_number}") or str(r.unit_price)
            lines.append((r.line_number, fields.quantity(qty, f"qty_{r.line_number}", 1),
                          fields.price(price, f"price_{r.line_number}")))  # fmt: skip
    return tuple(lines)


@bp.post("/po/<po_number>/invoices")
@access.roles(*BUYERS)
def invoice_enter(po_number: str) -> Response:
    session, form = _db(), request.form
    po = get_po(session, po_number)
    supplier = session.get(Supplier, po.supplier_id)
    data = invoices.InvoiceInput(
        str(supplier.code), po_number, fields.text(form.get("invoice_number"), "invoice_number", 64),
        fields.day(form.get("invoice_date", ""), "invoice_date"), po.currency, _invoice_lines(form, po_number),
        fields.price(form.get("tax") or "0", "tax"),
    )  # fmt: skip
    typed = {k: v for k, v in form.items() if k != "csrf_token"}
    doc = fields.store(session, "manual", "invoice", json.dumps(typed, ensure_ascii=False).encode(), _services().clock,
                       supplier_id=po.supplier_id, po_id=po.id)  # fmt: skip
    bill = invoices.record(session, data, "manual", doc.id, _services().clock, _actor())
    said = gettext("invoice %(number)s: %(status)s", number=bill.invoice_number, status=_invoice_label(bill.status))
    if bill.hold_reason:
        said = gettext("%(said)s (%(reason)s)", said=said, reason=notes.shown(bill.hold_reason))
    return _back(po_number, said)


def _invoice_label(status: str) -> str:
    return str(INVOICE_LABELS.get(InvoiceStatus(status), status))


@bp.get("/invoices")
@access.roles(*READERS)
def invoice_list() -> str:
    return _invoice_page(None)


def _invoice_page(outcome: invoice_csv.CsvOutcome | None) -> str:
    session = _db()
    rows = session.execute(
        select(Invoice, Supplier.code, PurchaseOrder.po_number)
        .join(Supplier, Supplier.id == Invoice.supplier_id)
        .join(PurchaseOrder, PurchaseOrder.id == Invoice.po_id)
        .order_by((Invoice.status == InvoiceStatus.HELD).desc(), Invoice.id.desc())
        .limit(500)
    ).all()
    return render_template("procurement/invoices.html", rows=rows, outcome=outcome)


@bp.post("/invoices/upload")
@access.roles(*BUYERS)
def invoice_upload() -> str:
    upload = request.files.get("file")
    raw = upload.read(MAX_UPLOAD + 1) if upload else request.form.get("csv", "").encode()
    if len(raw) > MAX_UPLOAD:
        raise DomainError(lazy_gettext("the CSV is larger than 2 MB: split it"), field="file")
    outcome = invoice_csv.import_invoices(_db(), raw.decode("utf-8", errors="replace"), _services().clock, _actor())
    _db().commit()
    return _invoice_page(outcome)


@bp.post("/invoices/<int:invoice_id>/decide")
@access.roles(*DECIDERS)
def invoice_decide(invoice_id: int) -> Response:
    approve = request.form.get("decision") == "approve"
    status = invoices.decide(_db(), invoice_id, approve, _actor(), _services().clock, request.form.get("comment", ""))
    number = _db().get(Invoice, invoice_id).invoice_number
    _db().commit()
    flash(gettext("invoice %(number)s: %(status)s", number=number, status=_invoice_label(status)), "ok")
    return redirect(url_for("procurement_supplier.invoice_list"))  # type: ignore[return-value]


@bp.post("/invoices/<int:invoice_id>/rematch")
@access.roles(*BUYERS)
def invoice_rematch(invoice_id: int) -> Response:
    status = invoices.rematch(_db(), invoice_id, _actor(), _services().clock)
    number = _db().get(Invoice, invoice_id).invoice_number
    _db().commit()
    flash(gettext("invoice %(number)s matched again: %(status)s", number=number, status=_invoice_label(status)), "ok")
    return redirect(url_for("procurement_supplier.invoice_list"))  # type: ignore[return-value]


@bp.post("/invoices/export")
@access.roles(*BUYERS)
def invoice_export() -> Response:
    text = invoices.export_payable(_db(), _actor(), _services().clock)
    _db().commit()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(text.encode(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="invoices-{stamp}.csv"'})  # fmt: skip


@bp.get("/inbound/<int:document_id>")
@access.roles(*READERS)
def inbound_document(document_id: int) -> Response:
    doc = _db().get(InboundDocument, document_id)
    if doc is None:
        raise NotFound(
            lazy_gettext("no inbound document %(document_id)s", document_id=document_id), field="document_id"
        )
    mimetype = "text/xml" if doc.channel == "cxml" else "text/plain"
    return Response(doc.content, mimetype=mimetype, headers={"Content-Disposition": "attachment; filename="
                                                             f'"inbound-{document_id}.{doc.channel}.txt"'})  # fmt: skip
