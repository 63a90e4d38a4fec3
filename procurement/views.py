"""Procurement pages: approval queue, PO detail with history and actions, PDF/CSV/cXML, suppliers, budgets."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for

from core import access
from core.errors import DomainError
from core.roles import Role
from core.runtime import AppServices
from procurement import approval, config, cxml, orders, pdf, queries, receiving, replenish, transmit
from procurement.catalog import import_catalog
from procurement.csv_export import to_csv
from procurement.documents import build_context
from procurement.supplier_profiles import csv_profile, cxml_parties
from procurement.suppliers import SupplierData, save_supplier

bp = Blueprint("procurement", __name__, url_prefix="/procurement", template_folder="templates")

BUYERS = (Role.PROCUREMENT, Role.ADMIN)
READERS = (Role.PROCUREMENT, Role.APPROVER, Role.ADMIN)
DECIDERS = (Role.APPROVER, Role.PROCUREMENT, Role.ADMIN)


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


def _actor() -> str:
    return str(g.principal.actor)


def _approver() -> approval.Approver:
    p = g.principal
    return approval.Approver(p.actor, p.name, frozenset(p.roles))


def _decimal(name: str, raw: str | None, default: Decimal | None = None) -> Decimal | None:
    if raw is None or not raw.strip():
        return default
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        raise DomainError(f"{name} {raw!r} is not a number", field=name) from None


@bp.get("/")
@access.roles(*READERS)
def queue_view() -> str:
    args = request.args
    flt = queries.QueueFilter(
        status=args.get("status", orders.PENDING), site=args.get("site", ""), supplier=args.get("supplier", ""),
        min_total=_decimal("min_total", args.get("min_total")),
    )  # fmt: skip
    data = queries.queue(_db(), flt)
    statuses = list(orders.TRANSITIONS)
    return render_template("procurement/queue.html", q=data, flt=flt, statuses=statuses)


@bp.get("/po/<po_number>")
@access.roles(*READERS)
def po_view(po_number: str) -> str:
    session = _db()
    ctx = build_context(session, po_number)
    info = queries.detail(session, po_number)
    po = orders.get_po(session, po_number)
    sends = transmit.transmissions(session, po.id, transmit.RetryPolicy.from_settings(_services().settings))
    return render_template("procurement/po.html", ctx=ctx, info=info, sends=sends,
                           statement=pdf.approval_statement(ctx))  # fmt: skip


def _done(po_number: str, message: str) -> Response:
    _db().commit()
    flash(message, "ok")
    return redirect(url_for("procurement.po_view", po_number=po_number))  # type: ignore[return-value]


@bp.post("/po/<po_number>/submit")
@access.roles(*BUYERS)
def po_submit(po_number: str) -> Response:
    status = orders.submit(_db(), po_number, _actor(), _services().clock)
    return _done(po_number, f"{po_number} submitted: now {status}")


@bp.post("/po/<po_number>/approve")
@access.roles(*DECIDERS)
def po_approve(po_number: str) -> Response:
    status = approval.approve(_db(), po_number, _approver(), _services().clock, request.form.get("comment", ""))
    return _done(po_number, f"{po_number}: your approval is recorded; status {status}")


@bp.post("/po/<po_number>/reject")
@access.roles(*DECIDERS)
def po_reject(po_number: str) -> Response:
    approval.reject(_db(), po_number, _approver(), _services().clock, request.form.get("comment", ""))
    return _done(po_number, f"{po_number} rejected")


@bp.post("/po/<po_number>/revise")
@access.roles(*BUYERS)
def po_revise(po_number: str) -> Response:
    orders.revise(_db(), po_number, _actor(), _services().clock)
    return _done(po_number, f"{po_number} is a draft again")


@bp.post("/po/<po_number>/cancel")
@access.roles(*BUYERS)
def po_cancel(po_number: str) -> Response:
    orders.cancel(_db(), po_number, _actor(), _services().clock, request.form.get("reason", ""))
    return _done(po_number, f"{po_number} cancelled")


@bp.post("/po/<po_number>/send")
@access.roles(*BUYERS)
def po_send(po_number: str) -> Response:
    """Send now (also "send again" for a queued or failed transmission); send runs its own transactions."""
    services = _services()
    _db().commit()  # end the request's transaction first: on SQLite it holds the write lock send needs
    smtp, policy = (
        transmit.SmtpConfig.from_settings(services.settings),
        transmit.RetryPolicy.from_settings(services.settings),
    )
    result = transmit.send(services.session_factory, po_number, smtp, _actor(), services.clock, policy)
    if result.status == transmit.SENT:
        flash(f"{po_number} e-mailed (sha256 {result.sha256[:12]}…)", "ok")
    elif result.status == transmit.QUEUED and result.next_attempt_at is not None:
        flash(f"{po_number} not delivered (attempt {result.attempts}): {result.error}; it is tried again "
              f"automatically at {result.next_attempt_at:%H:%M:%S} UTC", "error")  # fmt: skip
    elif result.status == transmit.FAILED:
        flash(f"{po_number} not sent after {result.attempts} attempts: {result.error}", "error")
    else:
        flash(f"{po_number}: {result.error}", "error")
    return redirect(url_for("procurement.po_view", po_number=po_number))  # type: ignore[return-value]


@bp.post("/po/<po_number>/lines/<int:line_number>")
@access.roles(*BUYERS)
def po_edit_line(po_number: str, line_number: int) -> Response:
    f = request.form
    try:
        quantity = int(f.get("quantity", ""))
    except ValueError:
        raise DomainError("quantity must be a whole number", field="quantity") from None
    price = _decimal("unit_price", f.get("unit_price"))
    if price is None:
        raise DomainError("unit price is required", field="unit_price")
    orders.edit_line(_db(), po_number, line_number, quantity, price, _actor(), _services().clock)
    return _done(po_number, f"line {line_number} changed")


@bp.post("/po/<po_number>/receive")
@access.roles(*BUYERS)
def po_receive(po_number: str) -> Response:
    quantities: dict[int, int] = {}
    for key, raw in request.form.items():
        if key.startswith("line_") and raw.strip():
            try:
                quantities[int(key[5:])] = int(raw)
            except ValueError:
                raise DomainError(f"{key}: {raw!r} is not a whole number", field=key) from None
    status = receiving.receive(_db(), po_number, quantities, _actor(), _services().clock, request.form.get("note", ""))
    return _done(po_number, f"receipt booked; {po_number} is {status}")


@bp.post("/po/<po_number>/close-short")
@access.roles(*BUYERS)
def po_close_short(po_number: str) -> Response:
    receiving.close_short(_db(), po_number, request.form.get("reason", ""), _actor(), _services().clock)
    return _done(po_number, f"{po_number} closed short")


@bp.post("/po/<po_number>/close")
@access.roles(*BUYERS)
def po_close(po_number: str) -> Response:
    orders.close(_db(), po_number, _actor(), _services().clock)
    return _done(po_number, f"{po_number} closed")


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


@bp.post("/replenish")
@access.roles(*BUYERS)
def run_replenish() -> Response:
    session, clock = _db(), _services().clock
    report = replenish.replenish(session, clock, actor=_actor())
    session.commit()
    flash(f"replenishment: {report.lines_created} new lines, {report.lines_merged} merged, "
          f"{report.pos_created} new draft orders", "ok")  # fmt: skip
    return redirect(url_for("procurement.queue_view", status="draft"))  # type: ignore[return-value]


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
                                      f.get("address", "")), _actor())  # fmt: skip
    _db().commit()
    flash(f"supplier {f.get('code')} saved", "ok")
    return redirect(url_for("procurement.supplier_list"))  # type: ignore[return-value]


@bp.get("/suppliers/<int:supplier_id>")
@access.roles(*READERS)
def supplier_view(supplier_id: int) -> str:
    found = [s for s in queries.suppliers(_db()) if s.id == supplier_id]
    if not found:
        raise DomainError(f"no supplier {supplier_id}", code="not_found", status=404)
    return render_template("procurement/supplier.html", supplier=found[0],
                           items=queries.supplier_items(_db(), supplier_id), result=None)  # fmt: skip


@bp.post("/suppliers/import")
@access.roles(*BUYERS)
def catalog_import() -> str:
    upload = request.files.get("file")
    text = upload.read().decode("utf-8-sig", errors="replace") if upload else request.form.get("csv", "")
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
        raise DomainError("amount is required", field="amount")
    config.set_budget(_db(), f.get("cost_center", ""), f.get("period", ""), amount, f.get("mode", "warn"), _actor())
    _db().commit()
    flash("budget saved", "ok")
    return redirect(url_for("procurement.budget_list"))  # type: ignore[return-value]


@bp.post("/review")
@access.roles(Role.ADMIN, Role.PROCUREMENT)
def review_switch() -> Response:
    f = request.form
    config.set_review(_db(), f.get("site", ""), f.get("category", ""), f.get("review", "on") == "on", _actor())
    _db().commit()
    flash("review-before-order updated", "ok")
    return redirect(url_for("procurement.budget_list"))  # type: ignore[return-value]
