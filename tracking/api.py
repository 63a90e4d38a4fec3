"""Tracking JSON API under /api/v1: assets and their location, nearest available, the live map, gateway batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import lazy_gettext

from core import access, notes, push
from core.errors import DomainError, NotFound
from core.models import Site
from core.prepared import fast_unit_of_work
from core.roles import Role, TokenScope
from core.validation import Choice, Int, Number, Schema, Text, checks_own_body, one
from tracking import asset_pages, calibration, calibration_service, inbox, locate_events, services, walk_timing
from tracking.models import AssetType, Zone
from tracking.pipeline import TrackingSettings, pipeline_for
from tracking.sources import limits
from tracking.sources.batch import MAX_BODY_BYTES, load_body, parse_batch
from tracking.sources.limits import Reason, Rejected
from tracking.states import AssetStatus

bp = Blueprint("tracking_api", __name__, url_prefix="/api/v1")
READERS = (Role.STAFF, Role.ADMIN)
READ_SCOPES = (TokenScope.READ,)


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _read_db() -> Any:
    """The request's session for views that write nothing (on SQLite it never waits for the write lock)."""
    return current_app.extensions["vendtrack_read_db"]()


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
            "reason": notes.english(item.reason),
        },
    }


PAGE = Schema(
    {
        "limit": Int(minimum=1, maximum=asset_pages.MAX_LIMIT, default=asset_pages.DEFAULT_LIMIT),
        "cursor": Int(minimum=0, default=0),
        "type": Text.column(AssetType.code),
        "zone": Text.column(Zone.code),
        "site": Text.column(Site.code),
        "status": Choice([s.value for s in AssetStatus], default=""),
        "q": Text(max_length=100),
    }
)


@bp.route("/assets")
@access.roles(*READERS, scopes=READ_SCOPES)
def assets() -> Any:
    """A page of assets by id (docs/tracking-api.md): ?limit=&cursor= (the `next_cursor` of the page before),
    filtered by ?type=&zone=&site=&status=&q=; a weak ETag and Last-Modified answer a conditional GET with 304."""
    args = PAGE.parse(request.args)
    flt = asset_pages.AssetFilter(
        args["type"], args["zone"], args["site"], AssetStatus(args["status"]) if args["status"] else None, args["q"]
    )
    if flt.text.strip():
        page = asset_pages.asset_page(_read_db(), flt, args["cursor"], args["limit"])
        shown = asset_pages.Rendered.of(page, _render_page)
    else:  # read each time; built again only when the rows differ from those the last body was built from
        read = current_app.extensions["vendtrack_read_work"]()
        shown = asset_pages.PAGES.page(read, flt, args["cursor"], args["limit"], _render_page)
    etag = shown.etag
    if (unchanged := _not_modified(etag, shown.last_modified)) is not None:
        return unchanged
    response = current_app.response_class(shown.body(_now()), mimetype="application/json")
    response.headers["ETag"] = etag
    if shown.last_modified is not None:
        response.last_modified = shown.last_modified
    response.headers["Cache-Control"] = "private, no-cache"  # keep it, but ask again each time
    return response


def _render_page(page: asset_pages.Page) -> str:
    """The body `jsonify` would give, each asset's `last_seen_ago_s` written as asset_pages.AGE_MARK."""
    assets = []
    for item in page.assets:
        shown = asset_json(item, _now())
        shown["location"]["last_seen_ago_s"] = asset_pages.AGE_MARK
        assets.append(shown)
    return current_app.json.dumps({"assets": assets, "next_cursor": page.next_cursor}, separators=(",", ":")) + "\n"


def _not_modified(etag: str, last_modified: datetime | None) -> Response | None:
    """A 304 when the caller's copy is current: If-None-Match (weak comparison) decides when sent, else
    If-Modified-Since against the page's Last-Modified (whole seconds, as HTTP dates carry)."""
    matches = request.if_none_match
    if matches:
        fresh = matches.contains_weak(etag.removeprefix("W/").strip('"'))
    else:
        since = request.if_modified_since
        fresh = since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since
    if not fresh:
        return None
    unchanged = Response(status=304)
    unchanged.headers["ETag"] = etag
    unchanged.headers["Cache-Control"] = "private, no-cache"
    return unchanged


@bp.route("/assets/<int:asset_id>/location")
@access.roles(*READERS, scopes=READ_SCOPES)
def asset_location(asset_id: int) -> Any:
    return jsonify(asset_json(services.get_location(_db(), asset_id), _now()))


@bp.route("/assets/nearest")
@access.roles(*READERS, scopes=READ_SCOPES)
def nearest() -> Any:
    asset_type, origin = request.args.get("type", ""), request.args.get("from", "")
    if not asset_type:
        raise DomainError(lazy_gettext("give the asset type, e.g. ?type=infusion_pump&from=ICU-1"), field="type")
    now = _now()
    ranked = services.nearest_available(_db(), asset_type, origin)
    return jsonify(
        {"from": origin, "type": asset_type, "assets": [asset_json(a, now) | {"distance_m": d} for a, d in ranked]}
    )


@bp.route("/tracking/events")
@access.roles(*READERS, scopes=READ_SCOPES)
def asset_events() -> Response:
    """Server-sent `assets` events when equipment moves or changes status (tracking.locate_events)."""
    g.session_read_only = True  # a long response must never write back a session cookie
    _db().close()  # no connection is held while the stream waits
    sub = push.hub_for(current_app.extensions["vendtrack"]).subscribe({locate_events.CHANNEL})
    response = Response(locate_events.stream(sub, locate_events.STREAM_FOR_S), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


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
         "subject_label": a.subject_label, "message": notes.english(a.message), "status": a.status.value}
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


def accuracy_json(found: calibration_service.SiteAccuracy | None, site: str) -> dict[str, Any]:
    score = found.accuracy if found is not None else calibration.Accuracy()

    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "site": site,
        "reference_tags": found.reference_tags if found is not None else 0,
        "heard_tags": found.heard_tags if found is not None else 0,
        "observed_s": round(score.total_s),
        "room_accuracy": share(score.room_accuracy),
        "unknown_share": share(score.unknown_share),
        "wrong_share": share(score.wrong_share),
    }


def timing_json(found: walk_timing.SiteTiming | None, window_s: int, deadline_s: float) -> dict[str, Any]:
    """Time to a room change from guided walks: median and p90 seconds (null when not measurable), counts."""
    return {
        "window_s": window_s,
        "samples": found.samples if found is not None else 0,
        "never": found.never if found is not None else 0,
        "deadline_s": round(deadline_s),
        "median_s": found.median_s if found is not None else None,
        "p90_s": found.p90_s if found is not None else None,
    }


@bp.route("/tracking/accuracy")
@access.roles(*READERS, scopes=READ_SCOPES)
def accuracy() -> Any:
    """Per site: room accuracy from the reference tags over the last `window_s` (default one hour), and the
    time to a room change measured on guided walks over the last `walk_window_s` (default 30 days)."""
    window_s = one(Int(minimum=60, maximum=31 * 86400, default=3600), "window_s", request.args.get("window_s"))
    walk_window_s = one(Int(minimum=60, maximum=366 * 86400, default=walk_timing.WINDOW_S), "walk_window_s",
                        request.args.get("walk_window_s"))  # fmt: skip
    site = one(Text(max_length=32), "site", request.args.get("site")) or None
    session, now = _db(), _now()
    refs = {s.site: s for s in calibration_service.site_accuracy(session, now, window_s, site)}
    timing = {s.site: s for s in walk_timing.site_timing(session, now, walk_window_s, site)}
    deadline_s = TrackingSettings.from_extra(current_app.extensions["vendtrack"].settings.extra).walk_deadline_s
    sites = [
        accuracy_json(refs.get(code), code) | {"time_to_room_change": timing_json(timing.get(code), walk_window_s,
                                                                                   deadline_s)}
        for code in sorted(set(refs) | set(timing))
    ]  # fmt: skip
    return jsonify({"window_s": window_s, "sites": sites})


@bp.route("/tracking/gateways/<gateway_id>/offset", methods=["POST"])
@access.roles(Role.ADMIN)
def gateway_offset(gateway_id: str) -> Any:
    """Apply a calibration offset to one gateway: {"offset_db": -4.5} (audited)."""
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise DomainError(
            lazy_gettext('send JSON {"offset_db": -4.5} with Content-Type: application/json'), field="body", status=422
        )
    spec = Number(minimum=-calibration.MAX_OFFSET_DB, maximum=calibration.MAX_OFFSET_DB, required=True, example="-4.5")
    offset_db = one(spec, "offset_db", body.get("offset_db"))
    session = _db()
    clock = current_app.extensions["vendtrack"].clock
    changed = calibration_service.apply_offset(session, gateway_id, offset_db, g.principal.actor, clock)
    session.commit()
    return jsonify({"gateway_id": gateway_id, "offset_db": round(offset_db, 1), "changed": changed})


@bp.route("/gateways/<gateway_id>/adverts", methods=["POST"])
@access.token(TokenScope.GATEWAY)
@checks_own_body
def gateway_adverts(gateway_id: str) -> Any:
    """A gateway's batch of raw adverts (see docs/tracking-api.md); bad entries are reported by index and field.

    A batch none of whose entries could be used is a 422 naming the first bad field; a body that is not a
    bounded JSON object is a 413/415/422 before anything is parsed. Every outcome is counted per reason in
    the HTTP ingester's stats (/healthz, /admin/ingest).
    """
    pipeline = pipeline_for(current_app.extensions["vendtrack"])
    stats = pipeline.http_stats
    try:
        body = _bounded_body()
        limits.gateway_id(gateway_id)
    except Rejected as exc:
        stats.reject(exc.key, exc.message, " on the HTTP batch endpoint")
        raise _refusal(exc) from None
    if not pipeline.knows_gateway(gateway_id):
        stats.reject("gateway_id:unknown", f"gateway {gateway_id!r} is not registered")
        raise NotFound(
            f"gateway {gateway_id!r} is not registered: add it to a zone first",  # i18n: read by the gateway's uploader
            field="gateway_id",
        )
    try:
        result = parse_batch(body, gateway_id, pipeline.now(), pipeline.engine_matcher, pipeline.settings.times)
    except Rejected as exc:
        stats.reject(exc.key, exc.message, f" from gateway {gateway_id!r}")
        raise _refusal(exc) from None
    for error in result.rejected:
        stats.reject(error.key, error.message, f" (advert {error.index} from gateway {gateway_id!r})")
    if result.rejected and not result.observations and not result.ignored:
        first = result.rejected[0]
        more = f" ({len(result.rejected) - 1} more adverts refused too)" if len(result.rejected) > 1 else ""
        where = f"adverts[{first.index}]"
        raise DomainError(f"{where}: {first.message}{more}", field=f"{where}.{first.field}", code="invalid", status=422)
    if result.observations:  # a batch of only ignored adverts queues nothing: no transaction (nor write lock) for it
        with fast_unit_of_work(current_app.extensions["vendtrack_engine"], one_statement=True) as work:
            inbox.put(work, gateway_id, result.observations, None, pipeline.clock.now())  # taken at the engine's flush
    stats.accept(len(result.observations))
    rejected = [{"index": e.index, "field": e.field, "message": e.message} for e in result.rejected]
    return jsonify(
        {
            "gateway_id": gateway_id,
            "accepted": len(result.observations),
            "ignored": result.ignored,
            "rejected": rejected,
        }
    )


def _refusal(exc: Rejected) -> DomainError:
    if exc.reason == Reason.TOO_LARGE:
        return DomainError(exc.message, field=exc.field, code="too_large", status=413)
    return DomainError(exc.message, field=exc.field, code="invalid", status=422)


def _bounded_body() -> Any:
    """The request's JSON, read no further than the batch limit and parsed only after its nesting is bounded."""
    if not request.is_json:
        raise DomainError(
            'send JSON {"adverts": [...]} with Content-Type: application/json',  # i18n: read by the gateway's uploader
            field="body", status=415,
        )  # fmt: skip
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise Rejected("body", Reason.TOO_LARGE, f"body is {length} bytes: send at most {MAX_BODY_BYTES} per request")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    return load_body(raw)
