"""Locate pages for staff: search, nearest available, live floor map, asset detail, PAR dashboard, alerts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for

from core import access
from core.errors import DomainError
from core.roles import Role
from tracking import services

bp = Blueprint("tracking", __name__, url_prefix="/tracking", template_folder="templates")
STATIC = Path(__file__).parent / "static"
STAFF = (Role.STAFF, Role.ADMIN)
STATUS_ACTIONS = {  # endpoint suffix -> (target status, button label)
    "check_out": ("in_use", "Check out (in use)"),
    "return_dirty": ("dirty", "Return (dirty)"),
    "mark_clean": ("clean", "Mark clean"),
    "to_maintenance": ("maintenance", "Send to maintenance"),
}


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _now() -> datetime:
    now: datetime = current_app.extensions["vendtrack"].clock.now()
    return now


def ago(moment: datetime | None, now: datetime) -> str:
    """'just now', '45 s ago', '2 min ago', '3 h ago', 'never'."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@bp.app_template_filter("confidence_pct")
def confidence_pct(value: float) -> str:
    return f"{round(value * 100)} %"


@bp.route("/")
@access.roles(*STAFF)
def locate() -> Any:
    session, now = _db(), _now()
    query = request.args.get("q", "")
    asset_type, origin = request.args.get("type", ""), request.args.get("from", "")
    nearest: list[tuple[services.AssetLocation, float]] = []
    if asset_type and origin:
        try:
            nearest = services.nearest_available(session, asset_type, origin)
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template(
        "tracking/locate.html",
        query=query,
        results=services.search_assets(session, query, limit=100),
        zones=services.zone_shapes(session),
        types=services.asset_types(session),
        asset_type=asset_type,
        origin=origin,
        nearest=nearest,
        alerts=services.open_alerts(session, 20),
        ago=ago,
        now=now,
    )


@bp.route("/assets/<int:asset_id>")
@access.roles(*STAFF)
def asset_detail(asset_id: int) -> Any:
    session, now = _db(), _now()
    item = services.get_location(session, asset_id)
    allowed = services.TRANSITIONS.get(item.status, frozenset())
    actions = [(name, label) for name, (target, label) in STATUS_ACTIONS.items() if target in allowed]
    return render_template(
        "tracking/asset.html",
        item=item,
        history=services.history(session, asset_id),
        utilisation=services.utilisation(session, asset_id, now),
        actions=actions,
        ago=ago,
        now=now,
    )


def _status_view(name: str, target: str) -> Any:
    def view(asset_id: int) -> Any:
        services.change_status(_db(), asset_id, target, g.principal.actor, current_app.extensions["vendtrack"].clock)
        _db().commit()
        flash(f"Status is now {target.replace('_', ' ')}.", "info")
        return redirect(url_for("tracking.asset_detail", asset_id=asset_id))

    view.__name__ = name
    return access.roles(*STAFF)(view)


for _name, (_target, _label) in STATUS_ACTIONS.items():
    bp.add_url_rule(
        f"/assets/<int:asset_id>/{_name.replace('_', '-')}", _name, _status_view(_name, _target), methods=["POST"]
    )


@bp.route("/par")
@access.roles(*STAFF)
def par() -> Any:
    return render_template("tracking/par.html", rows=services.par_dashboard(_db()))


@bp.route("/alerts")
@access.roles(*STAFF)
def alerts() -> Any:
    return render_template("tracking/alerts.html", alerts=services.open_alerts(_db()), ago=ago, now=_now())


@bp.route("/static/<path:filename>")
@access.public
def static_file(filename: str) -> Any:
    return send_from_directory(STATIC, filename, max_age=300)
