"""Vending pages: usage (HTML and CSV), outliers, the ledger, CSV import/export, returnable tools."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import access
from core.csv_rows import decode_upload
from core.errors import DomainError, Forbidden
from core.models import CostCenter, Item
from core.roles import Role
from core.validation import Moment, Number, Text, one, schema
from vending import csv_io, exports, ledger, lots, reports, tools, usage
from vending.admin_views import actor, db, now, saved, site_id_from_form
from vending.models import ChargeCode, Machine, Slot, WorkerGroup

bp = Blueprint("vending_reports", __name__, url_prefix="/vending")
REPORTERS = access.roles(Role.ADMIN, Role.STAFF, Role.PROCUREMENT)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIOD = schema(start=Moment(), end=Moment())
TOOL = schema(sku=Text.column(Item.sku, required=True), inspection_due=Moment(), calibration_due=Moment())


def _period() -> tuple[datetime, datetime]:
    asked = PERIOD.parse(request.args)
    end = asked["end"] or now()
    return asked["start"] or end - timedelta(days=30), end


def day_arg(name: str, default: date) -> date:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(
            lazy_gettext("%(name)s must be a date like 2026-11-06 (year-month-day)", name=name), field=name
        ) from None


def _usage_query(session: Session) -> usage.UsageQuery:
    today = now().astimezone(ZoneInfo(usage.site_timezone(session))).date()
    base = usage.default_query(session, today)
    by = request.args.get("by", "item")
    if by in usage.PERSONAL and not may_see_people():
        raise Forbidden(
            lazy_gettext("usage per named worker is for administrators: group by worker group instead"), field="by"
        )
    wanted = {name: request.args.get(name, "").strip()[:64] for name in usage.FILTERS}
    return usage.UsageQuery(
        start=day_arg("start", base.start), end=day_arg("end", base.end), timezone=base.timezone, by=by, **wanted
    )


def may_see_people() -> bool:
    """Usage per named worker is personal data: administrators only (they manage workers and limits)."""
    return Role.ADMIN.value in g.principal.roles


def _choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    codes = session.execute(
        select(ChargeCode.kind, ChargeCode.code, ChargeCode.name).where(ChargeCode.active.is_(True))
    ).all()
    centers = {c: n for c, n in session.execute(select(CostCenter.code, CostCenter.name))}
    centers.update({c: n for k, c, n in codes if k == "cost_center"})
    return {
        "cost_center": sorted(centers.items()),
        "work_order": sorted((c, n) for k, c, n in codes if k == "work_order"),
        "group": [(n, n) for n in session.scalars(select(WorkerGroup.name).order_by(WorkerGroup.name))],
        "item": [(s, n) for s, n in session.execute(select(Item.sku, Item.name).order_by(Item.sku))],
        "machine": [(c, n) for c, n in session.execute(select(Machine.code, Machine.name).order_by(Machine.code))],
    }


@bp.route("/reports/usage", endpoint="usage")
@REPORTERS
def usage_view() -> Any:
    session = db()
    report = usage.run(session, _usage_query(session))
    wanted = request.args.get("format", "")
    if wanted == "csv":
        return Response(
            exports.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{exports.filename(report, "csv")}"'},
        )
    if wanted == "xlsx":
        return Response(
            exports.to_xlsx(report),
            mimetype=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{exports.filename(report, "xlsx")}"'},
        )
    dimensions = {k: v for k, v in usage.DIMENSIONS.items() if k not in usage.PERSONAL or may_see_people()}
    last_start, last_end = usage.previous_month(now().date())
    return render_template(
        "vending/usage.html",
        report=report,
        q=report.query,
        dimensions=dimensions,
        titles=usage.TITLES,
        choices=_choices(session),
        about=exports.describe(report),
        last_month=(last_start, last_end),
        bars=[(ln.code or ln.name, ln.value) for ln in report.lines[:12]],
        args={k: v for k, v in request.args.items() if k != "format"},
    )


@bp.route("/reports/outliers")
@access.roles(Role.ADMIN)
def outliers() -> Any:
    start, end = _period()
    factor = one(Number(minimum=1.0, maximum=100.0, default=3.0, example="3"), "factor", request.args.get("factor"))
    rows = reports.outliers(db(), start, end, factor=factor)
    return render_template("vending/outliers.html", rows=rows, start=start, end=end, factor=factor)


@bp.route("/ledger")
@access.roles(Role.ADMIN, Role.RESTOCKER, Role.STAFF)
def ledger_view() -> Any:
    session = db()
    entries = ledger.recent(session, 200)
    slots = {s.id: s for s in session.scalars(select(Slot).where(Slot.id.in_({e.slot_id for e in entries})))}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_({e.item_id for e in entries})))}
    lot_parts = lots.of_entries(session, [e.id for e in entries])
    return render_template("vending/ledger.html", entries=entries, slots=slots, items=items, lots=lot_parts)


@bp.route("/csv", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def csv_page() -> Any:
    report = None
    if request.method == "POST":
        kind = request.form.get("kind", "")
        upload = request.files.get("file")
        text = decode_upload(upload.read()) if upload else request.form.get("text", "")
        session = db()
        report = csv_io.import_csv(session, kind, text, site_id_from_form(session))
        session.commit()
    return render_template("vending/csv.html", report=report, kinds=csv_io.KINDS, columns=csv_io.COLUMNS)


@bp.route("/csv/<kind>.csv")
@access.roles(Role.ADMIN)
def csv_export(kind: str) -> Any:
    text = csv_io.export_csv(db(), kind)
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})


@bp.route("/tools", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def tool_list() -> Any:
    session = db()
    if request.method == "POST":
        asked = TOOL.parse(request.form)
        item_id = session.scalar(select(Item.id).where(Item.sku == asked["sku"]))
        if item_id is None:
            raise DomainError(lazy_gettext("no item with sku %(sku)s", sku=repr(asked["sku"])), field="sku")
        tools.add_tool(
            session,
            request.form.get("serial", ""),
            item_id,
            site_id_from_form(session),
            inspection_due=asked["inspection_due"],
            calibration_due=asked["calibration_due"],
        )
        return saved(gettext("Tool added."), "vending_reports.tool_list")
    moment = now()
    views = tools.all_tools(session)
    return render_template(
        "vending/tools.html",
        tools=[(v, tools.unavailable_reason(v, moment)) for v in views],
        overdue=tools.overdue(session, moment),
        damage=tools.damage_reports(session),
        now=moment,
    )


@bp.route("/tools/<serial>/repaired", methods=["POST"])
@access.roles(Role.ADMIN)
def tool_repaired(serial: str) -> Any:
    tools.repaired(db(), serial, actor())
    return saved(gettext("Tool %(serial)s is available again.", serial=serial), "vending_reports.tool_list")
