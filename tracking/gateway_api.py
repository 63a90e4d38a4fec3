"""HTTP endpoints for third-party gateways' own upload formats: Minew-style JSON arrays and Ingics `$GPRP` lines.

    POST /api/v1/gateways/<gateway_id>/minew    [{"type":"Gateway",...}, {"mac":...,"rssi":...,"rawData":...}]
    POST /api/v1/gateways/<gateway_id>/ingics   $GPRP,<tag>,<gateway>,<rssi>,<hex>[,<time>] lines, or {"data": [...]}

Both take the gateway token (`Authorization: Bearer <token>` with the GATEWAY scope), as the raw-advert batch
endpoint does, and a gateway id registered in a zone. Each bad record is refused by index and field, the good
ones are kept; a body none of whose records could be used is a 422 naming the first bad field. The gateway's
own heartbeat record (Minew's `Gateway` record, Ingics' `$HBRP`) counts as a sign of life for "gateway down".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from core import access
from core.errors import DomainError, NotFound
from core.prepared import fast_unit_of_work
from core.roles import TokenScope
from core.validation import checks_own_body
from tracking import inbox
from tracking.pipeline import Pipeline, pipeline_for
from tracking.sources import ingics, limits, minew
from tracking.sources.formats import FormatContext, Outcome
from tracking.sources.limits import Reason, Rejected

bp = Blueprint("tracking_gateway_formats", __name__, url_prefix="/api/v1")


@bp.route("/gateways/<gateway_id>/minew", methods=["POST"])
@access.token(TokenScope.GATEWAY)
@checks_own_body
def minew_upload(gateway_id: str) -> Any:
    """A Minew-style upload (see the module docstring and docs/hardware.md)."""
    return _receive(gateway_id, "minew", minew.MAX_BODY_BYTES,
                    lambda raw, context: minew.parse_upload(minew.load_body(raw), gateway_id, context))  # fmt: skip


@bp.route("/gateways/<gateway_id>/ingics", methods=["POST"])
@access.token(TokenScope.GATEWAY)
@checks_own_body
def ingics_report(gateway_id: str) -> Any:
    """Ingics iGS report lines (see the module docstring and docs/hardware.md)."""
    return _receive(gateway_id, "ingics", ingics.MAX_BODY_BYTES,
                    lambda raw, context: ingics.parse_report(ingics.load_lines(raw), gateway_id, context))  # fmt: skip


def _receive(gateway_id: str, fmt: str, max_bytes: int, parse: Callable[[bytes, FormatContext], Outcome]) -> Any:
    pipeline = pipeline_for(current_app.extensions["vendtrack"])
    stats = pipeline.http_stats
    where = f" from {fmt} gateway {gateway_id[:64]!r}"
    try:
        limits.gateway_id(gateway_id)
        raw = _bounded(max_bytes)
    except Rejected as exc:
        stats.reject(exc.key, exc.message, f" on the {fmt} endpoint")
        raise _refusal(exc) from None
    if not pipeline.knows_gateway(gateway_id):
        stats.reject("gateway_id:unknown", f"gateway {gateway_id!r} is not registered")
        raise NotFound(
            f"gateway {gateway_id!r} is not registered: add it to a zone first",  # i18n: read by the gateway's uploader
            field="gateway_id",
        )
    try:
        outcome = parse(raw, FormatContext(pipeline.now(), pipeline.engine_matcher, pipeline.settings.times))
    except Rejected as exc:
        stats.reject(exc.key, exc.message, where)
        raise _refusal(exc) from None
    for error in outcome.rejected:
        stats.reject(error.key, error.message, f" (record {error.index}{where})")
    if outcome.rejected and not outcome.usable:
        first = outcome.rejected[0]
        more = f" ({len(outcome.rejected) - 1} more records refused too)" if len(outcome.rejected) > 1 else ""
        at = f"records[{first.index}]"
        raise DomainError(f"{at}: {first.message}{more}", field=f"{at}.{first.field}", code="invalid", status=422)
    _land(pipeline, outcome)
    rejected = [{"index": e.index, "field": e.field, "message": e.message} for e in outcome.rejected]
    return jsonify({"gateway_id": gateway_id, "accepted": len(outcome.observations), "ignored": outcome.ignored,
                    "heartbeat": outcome.heartbeat, "rejected": rejected})  # fmt: skip


def _land(pipeline: Pipeline, outcome: Outcome) -> None:
    """Queue the upload for the engine (which may live in another process: tracking.inbox), then count it."""
    with fast_unit_of_work(current_app.extensions["vendtrack_engine"], one_statement=True) as work:
        inbox.put(work, outcome.gateway_id, outcome.observations, outcome.heartbeat, pipeline.clock.now())
    if outcome.observations:
        pipeline.http_stats.accept(len(outcome.observations))
    else:
        pipeline.http_stats.heard()


def _bounded(max_bytes: int) -> bytes:
    """The request body, read no further than `max_bytes` (a longer body is refused, not parsed)."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise Rejected("body", Reason.TOO_LARGE, f"body is {length} bytes: send at most {max_bytes} per request")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise Rejected("body", Reason.TOO_LARGE, f"body is over {max_bytes} bytes: send at most {max_bytes}")
    return raw


def _refusal(exc: Rejected) -> DomainError:
    if exc.reason == Reason.TOO_LARGE:
        return DomainError(exc.message, field=exc.field, code="too_large", status=413)
    return DomainError(exc.message, field=exc.field, code="invalid", status=422)
