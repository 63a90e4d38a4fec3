"""Vending pages: usage (HTML and CSV), outliers, the ledger, CSV import/export, pick lists, returnable tools."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from core import access
from core.csv_rows import decode_upload
from core.errors import DomainError
from core.models import Item
from core.roles import Role
from core.validation import Int, Moment, Number, Text, one, schema
from vending import csv_io, ledger, reports, restock, tools
from vending.admin_views import actor, db, now, saved, site_id_from_form
from vending.models import Machine, Slot

bp = Blueprint("vending_reports", __name__, url_prefix="/vending")
REPORTERS = access.roles(Role.ADMIN, Role.STAFF, Role.PROCUREMENT)
PERIOD = schema(start=Moment(), end=Moment())
COUNTS = schema(counted=Int(minimum=0, maximum=100_000), added=Int(minimum=0, maximum=100_000, default=0))
TOOL = schema(sku=Text.column(Item.sku, required=True), inspection_due=Moment(), calibration_due=Moment())


def _period() -> tuple[datetime, datetime]:
    asked = PERIOD.parse(request.args)
    end = asked["end"] or now()
    return asked["start"] or end - timedelta(days=30), end


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


@bp.route("/reports/usage")
@REPORTERS
def usage() -> Any:
    by = request.args.get("by", "item")
    start, end = _period()
    rows = reports.usage(db(), by, start, end)
    if request.args.get("format") == "csv":
        return _csv(
            f"usage-by-{by}", [by, "label", "quantity", "value"], [[r.key, r.label, r.quantity, r.value] for r in rows]
        )
    return render_template("vending/usage.html", rows=rows, by=by, start=start, end=end, dimensions=reports.DIMENSIONS)


@bp.route("/reports/outliers")
@REPORTERS
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
    return render_template("vending/ledger.html", entries=entries, slots=slots, items=items)


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


@bp.route("/restock/<int:machine_id>", methods=["GET", "POST"])
@access.roles(Role.ADMIN, Role.RESTOCKER)
def restock_page(machine_id: int) -> Any:
    session = db()
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise DomainError(f"no machine with id {machine_id}", field="machine_id", status=404, code="not_found")
    if request.method == "POST":
        slot_code, key = request.form.get("slot", ""), request.form.get("key") or uuid.uuid4().hex
        message = []
        counts = COUNTS.parse(request.form)
        if counts["counted"] is not None:
            result = restock.record_count(
                session,
                machine.id,
                slot_code,
                counts["counted"],
                key=f"{key}:count",
                now=now(),
                actor=actor(),
            )
            message.append(
                f"counted {result.counted}, expected {result.expected}"
                + (" - difference flagged" if result.flagged else "")
            )
        if counts["added"] > 0:
            held = restock.record_fill(
                session, machine.id, slot_code, counts["added"], key=f"{key}:fill", now=now(), actor=actor()
            )
            message.append(f"now {held} on hand")
        return saved(
            f"Slot {slot_code}: " + ("; ".join(message) or "nothing recorded"),
            "vending_reports.restock_page",
            machine_id=machine.id,
        )
    return render_template(
        "vending/restock.html", machine=machine, lines=restock.pick_list(session, machine.id), key=uuid.uuid4().hex
    )


@bp.route("/tools", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def tool_list() -> Any:
    session = db()
    if request.method == "POST":
        asked = TOOL.parse(request.form)
        item_id = session.scalar(select(Item.id).where(Item.sku == asked["sku"]))
        if item_id is None:
            raise DomainError(f"no item with sku {asked['sku']!r}", field="sku")
        tools.add_tool(
            session,
            request.form.get("serial", ""),
            item_id,
            site_id_from_form(session),
            inspection_due=asked["inspection_due"],
            calibration_due=asked["calibration_due"],
        )
        return saved("Tool added.", "vending_reports.tool_list")
    return render_template("vending/tools.html", tools=tools.all_tools(session), overdue=tools.overdue(session, now()))


@bp.route("/tools/<serial>/repaired", methods=["POST"])
@access.roles(Role.ADMIN)
def tool_repaired(serial: str) -> Any:
    tools.repaired(db(), serial, actor())
    return saved(f"Tool {serial} is available again.", "vending_reports.tool_list")
