"""Pages for count differences: the queue a manager works through (accept or recount) and shrinkage per machine."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_babel import gettext, lazy_gettext

from core import access
from core.errors import DomainError
from core.roles import Role
from vending import counts, usage
from vending.admin_views import actor, db, now, saved
from vending.report_views import day_arg

bp = Blueprint("vending_counts", __name__, url_prefix="/vending")


@bp.route("/counts")
@access.roles(Role.ADMIN)
def queue() -> Any:
    session = db()
    return render_template(
        "vending/counts.html",
        queue=counts.open_queue(session),
        done=[d for d in counts.differences(session) if d.decision in ("accepted", "recounted")][:50],
    )


@bp.route("/counts/<int:ledger_id>", methods=["POST"])
@access.roles(Role.ADMIN)
def decide(ledger_id: int) -> Any:
    decision = request.form.get("decision", "")
    counts.decide(db(), ledger_id, decision, actor(), now(), note=request.form.get("note", ""))
    if decision == "accepted":
        text = gettext("Count difference %(id)s accepted as shrinkage.", id=ledger_id)
    else:
        text = gettext("Count difference %(id)s sent back for a recount.", id=ledger_id)
    return saved(text, "vending_counts.queue")


@bp.route("/reports/shrinkage")
@access.roles(Role.ADMIN, Role.PROCUREMENT)
def shrinkage() -> Any:
    session = db()
    zone_name = usage.site_timezone(session)
    today = now().astimezone(ZoneInfo(zone_name)).date()
    start, end = day_arg("start", today - timedelta(days=30)), day_arg("end", today)
    if end < start:
        raise DomainError(lazy_gettext("the To date is before the From date: swap them"), field="end")
    query = usage.UsageQuery(start=start, end=end, timezone=zone_name)
    lines = counts.shrinkage(session, *query.bounds())
    chart = [(f"{ln.machine_code} {ln.sku}", -ln.value, "bad") for ln in lines if ln.value < 0]
    return render_template(
        "vending/shrinkage.html",
        lines=lines,
        q=query,
        chart=chart,
        total=sum((ln.value for ln in lines), start=Decimal(0)),
    )
