"""Tracking JSON API under /api/v1: assets and their location, nearest available, the live map, gateway batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from core import access
from core.errors import DomainError, NotFound
from core.roles import Role, TokenScope
from tracking import services
from tracking.pipeline import pipeline_for
from tracking.sources.batch import BatchError, parse_batch

bp = Blueprint("tracking_api", __name__, url_prefix="/api/v1")
READERS = (Role.STAFF, Role.ADMIN)
READ_SCOPES = (TokenScope.READ,)


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _now() -> datetime:
    now: datetime = current_app.extensions["vendtrack"].clock.now()
    return now


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def asset_json(item: services.AssetLocation, now: datetime) -> dict[str, Any]:
    ago = round((now - item.last_seen).total_seconds()) if item.last_seen else None
    return {
        "id": item.id,
        "asset_tag": item.asset_tag,
        "name": item.name,
        "type": item.asset_type,
        "type_label": item.type_label,
        "serial": item.serial,
        "unit": item.unit,
        "status": item.status.value,
        "status_label": item.status.label,
        "tag_key": item.tag_key,
        "battery_mv": item.battery_mv,
        "location": {
            "zone": item.zone,
            "zone_name": item.zone_name,
            "last_zone_name": item.last_zone_name,
            "building": item.building,
            "floor": item.floor,
            "confidence": item.confidence,
            "since": _iso(item.since),
            "last_seen": _iso(item.last_seen),
            "last_seen_ago_s": ago,
            "reason": item.reason,
        },
    }


@bp.route("/assets")
@access.roles(*READERS, scopes=READ_SCOPES)
def assets() -> Any:
    found = services.search_assets(_db(), request.args.get("q", ""), limit=int(request.args.get("limit", 200)))
    now = _now()
    return jsonify({"assets": [asset_json(a, now) for a in found]})


@bp.route("/assets/<int:asset_id>/location")
@access.roles(*READERS, scopes=READ_SCOPES)
def asset_location(asset_id: int) -> Any:
    return jsonify(asset_json(services.get_location(_db(), asset_id), _now()))


@bp.route("/assets/nearest")
@access.roles(*READERS, scopes=READ_SCOPES)
def nearest() -> Any:
    asset_type, origin = request.args.get("type", ""), request.args.get("from", "")
    if not asset_type:
        raise DomainError("give the asset type, e.g. ?type=infusion_pump&from=ICU-1", field="type")
    now = _now()
    ranked = services.nearest_available(_db(), asset_type, origin)
    return jsonify(
        {"from": origin, "type": asset_type, "assets": [asset_json(a, now) | {"distance_m": d} for a, d in ranked]}
    )


def floor_json(ref: services.FloorRef) -> dict[str, str]:
    return {"building": ref.building, "floor": ref.floor, "label": ref.label}


@bp.route("/tracking/map")
@access.roles(*READERS, scopes=READ_SCOPES)
def live_map() -> Any:
    """One floor's zones and gateways (?building=&floor=, default the first floor) and every asset matching q."""
    session, now = _db(), _now()
    known = services.floors(session)
    shown = services.choose_floor(known, request.args.get("building"), request.args.get("floor"))
    zones = [
        {"code": z.code, "name": z.name, "kind": z.kind, "building": z.building, "floor": z.floor, "points": z.points}
        for z in (services.zone_shapes(session, shown) if shown else [])
    ]
    located = [asset_json(a, now) for a in services.search_assets(session, request.args.get("q", ""), limit=1000)]
    roles = g.principal.roles or frozenset({Role.STAFF.value})  # a READ token sees what staff see
    alerts = [
        {"id": a.id, "kind": a.kind.value, "kind_label": a.kind.label, "subject": a.subject,
         "subject_label": a.subject_label, "message": a.message, "status": a.status.value}
        for a in services.open_alerts(session, roles, now, 50)
    ]  # fmt: skip
    return jsonify(
        {
            "floor": floor_json(shown) if shown else None,
            "floors": [floor_json(f) for f in known],
            "zones": zones,
            "gateways": services.gateways(session, shown) if shown else [],
            "assets": located,
            "alerts": alerts,
        }
    )


@bp.route("/gateways/<gateway_id>/adverts", methods=["POST"])
@access.token(TokenScope.GATEWAY)
def gateway_adverts(gateway_id: str) -> Any:
    """A gateway's batch of raw adverts (see docs/tracking-api.md); bad entries are reported by index."""
    pipeline = pipeline_for(current_app.extensions["vendtrack"])
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        raise DomainError('send JSON {"adverts": [...]} with Content-Type: application/json', field="body", status=415)
    if not pipeline.knows_gateway(gateway_id):
        raise NotFound(f"gateway {gateway_id!r} is not registered: add it to a zone first", field="gateway_id")
    try:
        result = parse_batch(body, gateway_id, pipeline.now(), pipeline.engine_matcher)
    except BatchError as exc:
        raise DomainError(str(exc), field=exc.field) from None
    pipeline.ingest(result.observations)
    rejected = [{"index": e.index, "field": e.field, "message": e.message} for e in result.rejected]
    return jsonify(
        {
            "gateway_id": gateway_id,
            "accepted": len(result.observations),
            "ignored": result.ignored,
            "rejected": rejected,
        }
    )
