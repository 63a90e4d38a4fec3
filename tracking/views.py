"""Locate pages for staff: search, nearest available, live floor map, asset detail, PAR dashboard, alerts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext

from core import access
from core.errors import DomainError
from core.roles import Role
from tracking import calibration_service, custody, par_plan, services, trends, walk_timing
from tracking import par as par_levels
from tracking.labels import reason_text, room_names
from tracking.pipeline import TrackingSettings
from tracking.states import ASSET_ACTION_LABELS, ASSET_STATUS, AssetStatus

bp = Blueprint("tracking", __name__, url_prefix="/tracking", template_folder="templates")
STATIC = Path(__file__).parent / "static"
STAFF = (Role.STAFF, Role.ADMIN)
QUIET_S = 60  # a tag unheard this long is "not heard for N min", not "between rooms"
# endpoint -> target status, read from the one table (tracking.states.ASSET_STATUS)
STATUS_ACTIONS = {action: target for targets in ASSET_STATUS.transitions.values() for target, action in targets.items()}


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _now() -> datetime:
    now: datetime = current_app.extensions["vendtrack"].clock.now()
    return now


def ago(moment: datetime | None, now: datetime) -> str:
    """'just now', '45 s ago', '2 min ago', '3 h ago', 'never'."""
    if moment is None:
        return gettext("never")
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 5:
        return gettext("just now")
    return gettext("%(span)s ago", span=span(seconds))


def span(seconds: int) -> str:
    """'45 s', '12 min', '3 h', '2 d'."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def seen_text(item: services.AssetLocation, now: datetime) -> str:
    """The 'last seen' cell: an unknown room reads 'not heard for 12 min' rather than a stale 'just now'."""
    quiet = item.quiet_for_s(now)
    if item.zone is None:
        if quiet is None:
            return gettext("never heard")
        if quiet >= QUIET_S:
            return gettext("not heard for %(span)s", span=span(quiet))
        return gettext("heard %(ago)s", ago=ago(item.last_seen, now))
    return ago(item.last_seen, now)


def room_text(item: services.AssetLocation, now: datetime) -> str:
    """The room, or for an unknown one why and where it was last: 'Unknown · last in Ward A' when the tag has
    gone quiet, 'Between rooms · last in Ward A' while it is still heard (no room near enough, e.g. a corridor)."""
    if item.zone is not None:
        return item.zone_name
    quiet = item.quiet_for_s(now)
    state = gettext("Between rooms") if quiet is not None and quiet < QUIET_S else gettext("Unknown")
    if item.last_zone_name:
        return gettext("%(state)s · last in %(room)s", state=state, room=item.last_zone_name)
    return gettext("%(state)s · never located", state=state)


@bp.app_template_filter("confidence_pct")
def confidence_pct(value: float) -> str:
    return f"{round(value * 100)} %"


def _shown_floor(
    session: Any,
    known: list[services.FloorRef],
    first: services.AssetLocation | None,
    origin: str,
) -> tuple[services.FloorRef | None, str]:
    """The floor the map opens on, and why: "link" (?building=&floor=), "result" (the first search or
    nearest result's floor), "origin" (the nearest search's room) or "default" (the first floor)."""
    building, floor = request.args.get("building"), request.args.get("floor")
    if building is not None or floor is not None:
        try:
            return services.choose_floor(known, building, floor), "link"
        except DomainError as exc:
            flash(str(exc.message), "error")
    if first is not None and first.building is not None and first.floor is not None:
        return services.FloorRef(first.building, first.floor), "result"
    for zone in services.zone_shapes(session) if origin else []:
        if zone.code == origin:
            return services.FloorRef(zone.building, zone.floor), "origin"
    return services.choose_floor(known, None, None), "default"


def measured_accuracy(session: Any, now: datetime) -> list[tuple[str, int, int]]:
    """(site code, room accuracy %, unknown %) from the reference tags over the last hour, sites heard only."""
    found = []
    for site in calibration_service.site_accuracy(session, now, 3600):
        score = site.accuracy
        if score.room_accuracy is not None and score.unknown_share is not None:
            found.append((site.site, round(score.room_accuracy * 100), round(score.unknown_share * 100)))
    return found


@bp.route("/")
@access.roles(*STAFF)
def locate() -> Any:
    session, now = _db(), _now()
    query = request.args.get("q", "")
    asset_type, origin = request.args.get("type", ""), request.args.get("from", "")
    nearest: list[tuple[services.AssetLocation, float | None]] = []
    if asset_type and origin:
        try:
            nearest = services.nearest_available(session, asset_type, origin)
        except DomainError as exc:
            flash(str(exc.message), "error")
    results = services.search_assets(session, query, limit=100)
    if nearest:
        first: services.AssetLocation | None = nearest[0][0]
    else:
        first = next((a for a in results if a.zone is not None), None) if query.strip() else None
    known = services.floors(session)
    shown, source = _shown_floor(session, known, first, origin)
    zones, types = services.zone_shapes(session), services.asset_types(session)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("building", "floor")}
    floor_links = [
        (f, url_for("tracking.locate", **(args | {"building": f.building, "floor": f.floor}))) for f in known
    ]
    return render_template(
        "tracking/locate.html",
        query=query,
        results=results,
        zones=zones,
        types=types,
        asset_type=asset_type,
        origin=origin,
        nearest=nearest,
        alerts=services.open_alerts(session, g.principal.roles, now, 20),
        floors=known,
        floor_links=floor_links,
        several_floors=len(known) > 1,
        shown=shown,
        floor_source=source,
        highlight=first.id if first is not None else None,
        type_text=dict(types).get(asset_type, asset_type),
        origin_name=next((z.name for z in zones if z.code == origin), origin),
        ago=ago,
        seen_text=seen_text,
        room_text=room_text,
        statuses=list(AssetStatus),
        accuracy=measured_accuracy(session, now),
        room_change=walk_timing.site_timing(session, now),
        walk_deadline_s=round(
            TrackingSettings.from_extra(current_app.extensions["vendtrack"].settings.extra).walk_deadline_s
        ),
        now=now,
    )


@bp.route("/assets/<int:asset_id>")
@access.roles(*STAFF)
def asset_detail(asset_id: int) -> Any:
    session, now = _db(), _now()
    item = services.get_location(session, asset_id)
    moves = ASSET_STATUS.transitions[item.status].values()
    actions = [(action, gettext(ASSET_ACTION_LABELS[action])) for action in moves]
    rooms = room_names(session)
    return render_template(
        "tracking/asset.html",
        item=item,
        history=services.history(session, asset_id),
        custody=custody.custody_views(session, asset_id=asset_id, limit=20),
        utilisation=services.utilisation(session, asset_id, now),
        actions=actions,
        ago=ago,
        seen_text=seen_text,
        room_text=room_text,
        span=span,
        named=lambda stored: reason_text(stored, rooms),
        now=now,
    )


def _status_view(name: str, target: AssetStatus) -> Any:
    def view(asset_id: int) -> Any:
        services.change_status(_db(), asset_id, target, g.principal.actor, current_app.extensions["vendtrack"].clock)
        _db().commit()
        shown = gettext(target.label)  # English mid-sentence in lower case; translations as written
        flash(gettext("Status is now %(status)s.", status=shown.lower() if shown == target.label else shown), "info")
        return redirect(url_for("tracking.asset_detail", asset_id=asset_id))

    view.__name__ = name
    return access.roles(*STAFF)(view)


for _name, _target in STATUS_ACTIONS.items():
    bp.add_url_rule(
        f"/assets/<int:asset_id>/{_name.replace('_', '-')}", _name, _status_view(_name, _target), methods=["POST"]
    )


@bp.route("/par")
@access.roles(*STAFF)
def par() -> Any:
    session, now = _db(), _now()
    rows = par_levels.par_dashboard(session)
    trend = trends.par_trend(session, now, [(r.unit, r.asset_type) for r in rows])
    bars = [(f"{r.unit} · {r.type_label}", r.available, r.tone, r.minimum) for r in rows]
    plans = [p for p in par_plan.plan(session) if p.moves or p.shortfall]
    return render_template("tracking/par.html", rows=rows, bars=bars, trend=trend, hours=trends.TREND_HOURS,
                           plans=plans, shortfalls=par_plan.shortfall_views(session, now))  # fmt: skip


@bp.route("/utilisation")
@access.roles(*STAFF)
def utilisation() -> Any:
    session, now = _db(), _now()
    chosen = request.args.get("type", "")
    types = services.asset_types(session)
    if chosen and chosen not in {code for code, _label in types}:
        flash(gettext("unknown asset type %(chosen)s: showing every type", chosen=repr(chosen)), "error")
        chosen = ""
    by_type = trends.current_by_type(session)
    return render_template(
        "tracking/utilisation.html",
        types=types,
        chosen=chosen,
        shares=trends.status_shares(session, now, chosen or None),
        now_by_type=by_type,
        by_type_bars=[
            (label, round(100 * counts.get(AssetStatus.IN_USE, 0) / total), "neutral")
            for label, counts, total in by_type
            if total
        ],
        statuses=[AssetStatus.IN_USE, AssetStatus.CLEAN, AssetStatus.DIRTY, AssetStatus.MAINTENANCE],
        hours=trends.TREND_HOURS,
    )


@bp.route("/static/<path:filename>")
@access.public
def static_file(filename: str) -> Any:
    return send_from_directory(STATIC, filename, max_age=300)
