"""The central server's fleet API: enrolment, the configuration feed, edge reports and credential rotation.

POST /api/v1/fleet/enrol    Bearer <one-time code>  -> the edge's EDGE token (once)
GET  /api/v1/fleet/config   Bearer <edge token>     ?since=<version>: the site's changes (or a snapshot),
                                                    ETag / If-None-Match (304), gzip when asked
POST /api/v1/fleet/status   Bearer <edge token>     the version it runs, backlog, devices
POST /api/v1/fleet/rotate   Bearer <edge token>     a new token; the old one is revoked
Each edge reads only its own site's configuration: the site comes from its token, never from the request.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from flask import Blueprint, Response, request
from flask_babel import gettext

from core import access, fleet_central
from core.errors import DomainError
from core.fleet_feed import build_feed, etag
from core.roles import TokenScope
from core.validation import Int, one
from web.api import json_body
from web.auth import require_principal
from web.session import db, services

bp = Blueprint("fleet_api", __name__, url_prefix="/api/v1/fleet")
GZIP_ABOVE = 1024  # bytes: smaller answers are sent as they are


def _json(data: Any, status: int = 200) -> Response:
    raw = json.dumps(data, separators=(",", ":")).encode()
    response = Response(raw, status=status, mimetype="application/json")
    if len(raw) > GZIP_ABOVE and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(raw, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.route("/enrol", methods=["POST"])
@access.public  # the one-time code is the credential
def enrol() -> Any:
    header = request.headers.get("Authorization", "")
    code = header[7:].strip() if header.startswith("Bearer ") else ""
    if not code:
        raise DomainError(gettext("send the enrolment code as 'Authorization: Bearer CODE'"), field="code", status=401)
    body = json_body()
    session = db()
    enrolled = fleet_central.enrol(
        session, code[:64], str(body.get("software_version", ""))[:64], services().clock.now()
    )
    session.commit()
    return _json({"edge": enrolled.edge, "site_code": enrolled.site_code, "token": enrolled.token,
                  "machines": list(enrolled.machines)})  # fmt: skip


@bp.route("/config")
@access.token(TokenScope.EDGE)
def config() -> Any:
    since = one(Int(0, 2**53), "since", request.args.get("since", "0") or "0")
    session = db()
    edge = fleet_central.edge_of_token(session, require_principal().id)
    now = services().clock.now()
    edge.last_contact_at = now
    tag = etag(session, edge.site_id)
    session.commit()
    if request.headers.get("If-None-Match", "").strip('"') == tag and since > 0:
        response = Response(status=304)
        response.headers["ETag"] = f'"{tag}"'
        return response
    doc = build_feed(session, edge.site_id, int(since), now)
    response = _json(doc)
    response.headers["ETag"] = f'"{tag}"'
    return response


@bp.route("/status", methods=["POST"])
@access.token(TokenScope.EDGE)
def status() -> Any:
    body = json_body()
    session = db()
    edge = fleet_central.edge_of_token(session, require_principal().id)
    report = {
        "config_version": one(Int(0, 2**53), "config_version", body.get("config_version", 0)),
        "software_version": str(body.get("software_version", ""))[:64],
        "backlog": one(Int(0, 2**31), "backlog", body.get("backlog", 0)),
        "oldest_waiting": body.get("oldest_waiting") if isinstance(body.get("oldest_waiting"), str) else None,
        "last_error": str(body.get("last_error", ""))[:2000],
        "devices": body.get("devices", []) if isinstance(body.get("devices"), list) else [],
    }
    try:
        fleet_central.record_status(session, edge, report, services().clock.now())
    except ValueError:
        raise DomainError(
            gettext("oldest_waiting must be an ISO 8601 time"), field="oldest_waiting", status=422
        ) from None
    session.commit()
    return _json({"status": "ok", "edge": edge.name})


@bp.route("/rotate", methods=["POST"])
@access.token(TokenScope.EDGE)
def rotate() -> Any:
    session = db()
    edge = fleet_central.edge_of_token(session, require_principal().id)
    plain = fleet_central.rotate(session, edge, services().clock.now())
    session.commit()
    return _json({"edge": edge.name, "token": plain})


@bp.route("/standing")
@access.public  # a revoked token no longer signs in: its holder may still learn why, and only that
def standing() -> Any:
    header = request.headers.get("Authorization", "")
    reason = fleet_central.standing(db(), header[7:].strip() if header.startswith("Bearer ") else "")
    return _json({"standing": "revoked" if reason else "unknown", "reason": reason})
