"""Procurement pages: approval queue, PO detail with history and actions, PDF/CSV/cXML, suppliers, budgets."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_babel import gettext as _

from core import access
from core.csv_rows import decode_upload
from core.errors import DomainError
from core.roles import Role
from core.runtime import AppServices
from core.validation import Dec, one
from procurement import config, cxml, equipment, orders, pdf, queries
from procurement.catalog import import_catalog
from procurement.csv_export import to_csv
from procurement.documents import build_context
from procurement.exceptions import exceptions
from procurement.supplier_profiles import csv_profile, cxml_parties
from procurement.suppliers import SupplierData, save_supplier

bp = Blueprint("procurement", __name__, url_prefix="/procurement", template_folder="templates")

BUYERS = (Role.PROCUREMENT, Role.ADMIN)
READERS = (Role.PROCUREMENT, Role.APPROVER, Role.ADMIN)
STATIC = Path(__file__).parent / "static"


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


def _actor() -> str:
    return str(g.principal.actor)


def _decimal(name: str, raw: str | None, default: Decimal | None = None) -> Decimal | None:
    """A finite decimal of at most 4 places that fits a money column (0 to 9,999,999,999.9999)."""
    value: Decimal | None = one(Dec(default=default), name, raw)
    return value


@bp.get("/static/<path:filename>")
@access.public
def static_file(filename: str) -> Response:
    return send_from_directory(STATIC, filename, max_age=300)


@bp.get("/")
@access.roles(*READERS)
def queue_view() -> str:
    args = request.args
    status = args.get("status", orders.PENDING)
    if status and status not in {s.value for s in orders.POStatus}:
        choices = ", ".join(s.value for s in orders.POStatus)
        raise DomainError(lazy_gettext("status %(status)s is not a purchase order status: use one of %(choices)s",
                                       status=repr(status[:40]), choices=choices),
                          field="status", status=422)  # fmt: skip
    flt = queries.QueueFilter(
        status=status, site=args.get("site", "")[:64], supplier=args.get("supplier", "")[:64],
        min_total=_decimal("min_total", args.get("min_total")),
    )  # fmt: skip
    session, clock = _db(), _services().clock
    return render_template(
        "procurement/queue.html", q=queries.queue(session, flt), flt=flt, statuses=orders.PO_STATES.options(),
        exceptions=exceptions(session, clock), spend=queries.spend(session, clock.now()),
        counts=queries.status_counts(session), may_run=bool({str(r) for r in BUYERS} & set(g.principal.roles)),
        equipment_requests=equipment.recent_requests(session),
    )  # fmt: skip


@bp.get("/po/<po_number>/pdf")
@access.roles(*READERS)
def po_pdf(po_number: str) -> Response:
    content = pdf.render(build_context(_db(), po_number))
    disposition = "attachment" if request.args.get("download") else "inline"
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{po_number}.pdf"'})  # fmt: skip


@bp.get("/po/<po_number>/csv")
@access.roles(*READERS)
def po_csv(po_number: str) -> Response:
    ctx = build_context(_db(), po_number)
    text = to_csv(ctx, csv_profile(_db(), ctx.supplier_id))  # the supplier's columns, delimiter and BOM
    return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{po_number}.csv"'})  # fmt: skip


@bp.get("/po/<po_number>/cxml")
@access.roles(*READERS)
def po_cxml(po_number: str) -> Response:
    ctx = build_context(_db(), po_number)
    parties = cxml_parties(_db(), ctx.supplier_id, _services().settings.secret_key)
    if not (request.args.get("with_secret") and set(g.principal.roles) & {r.value for r in BUYERS}):
        parties = dataclasses.replace(parties, shared_secret="")  # the SharedSecret only for buyers who ask
    body = cxml.order_request(ctx, _services().clock.now(), parties)
    return Response(body, mimetype="application/xml")


@bp.get("/suppliers")
@access.roles(*READERS)
def supplier_list() -> str:
    return render_template("procurement/suppliers.html", suppliers=queries.suppliers(_db()))


@bp.post("/suppliers")
@access.roles(*BUYERS)
def supplier_save() -> Response:
    f = request.form
    save_supplier(_db(), SupplierData(f.get("code", ""), f.get("name", ""), f.get("email", ""),
                                      f.get("currency", "USD"), f.get("payment_terms", "Net 30"),
                                      f.get("address", ""), f.get("language", "")), _actor())  # fmt: skip
    _db().commit()
    flash(_("Supplier %(code)s saved.", code=f.get("code", "")), "ok")
    return redirect(url_for("procurement.supplier_list"))  # type: ignore[return-value]


@bp.get("/suppliers/<int:supplier_id>")
@access.roles(*READERS)
def supplier_view(supplier_id: int) -> str:
    found = [s for s in queries.suppliers(_db()) if s.id == supplier_id]
    if not found:
        raise DomainError(
            lazy_gettext("no supplier %(supplier_id)s", supplier_id=supplier_id), code="not_found", status=404
        )
    return render_template("procurement/supplier.html", supplier=found[0],
                           items=queries.supplier_items(_db(), supplier_id), result=None)  # fmt: skip


@bp.post("/suppliers/import")
@access.roles(*BUYERS)
def catalog_import() -> str:
    upload = request.files.get("file")
    text = decode_upload(upload.read()) if upload else request.form.get("csv", "")
    result = import_catalog(_db(), text, _actor())
    _db().commit()
    return render_template("procurement/import.html", result=result)


@bp.get("/budgets")
@access.roles(*READERS)
def budget_list() -> str:
    session = _db()
    return render_template("procurement/budgets.html", budgets=queries.budgets(session),
                           switches=queries.review_switches(session))  # fmt: skip


@bp.post("/budgets")
@access.roles(*BUYERS)
def budget_save() -> Response:
    f = request.form
    amount = _decimal("amount", f.get("amount"))
    if amount is None:
        raise DomainError(lazy_gettext("amount is required"), field="amount")
    config.set_budget(_db(), f.get("cost_center", ""), f.get("period", ""), amount, f.get("mode", "warn"), _actor())
    _db().commit()
    flash(gettext("budget saved"), "ok")
    return redirect(url_for("procurement.budget_list"))  # type: ignore[return-value]


@bp.post("/review")
@access.roles(Role.ADMIN, Role.PROCUREMENT)
def review_switch() -> Response:
    f = request.form
    config.set_review(_db(), f.get("site", ""), f.get("category", ""), f.get("review", "on") == "on", _actor())
    _db().commit()
    flash(gettext("review-before-order updated"), "ok")
    return redirect(url_for("procurement.budget_list"))  # type: ignore[return-value]
