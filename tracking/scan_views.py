"""Opening an asset from its label: the link its QR code holds, and the answer the pages' scan button asks for.

An asset label's QR code holds `<server>/tracking/tag/<asset_tag>` (see web/labels.py): a phone's own camera app
opens it, and so does the scan button on the locate and asset pages, which also takes the bare asset tag (typed,
or a keyboard-wedge scanner) and a link to an asset page. A link to another server is refused (core.scanned).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext

from core import access, scanned
from core.errors import DomainError
from core.roles import Role
from tracking import services

bp = Blueprint("tracking_scan", __name__, url_prefix="/tracking")
STAFF = (Role.STAFF, Role.ADMIN)
TAG_PATH = "/tracking/tag/"
ASSET_PATH = "/tracking/assets/"


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def resolve(session: Any, text: str, host: str, scheme: str, script_root: str = "") -> services.AssetLocation:
    """The asset a scanned text names: its tag, a link to its label path or its page on this server."""
    found = scanned.read(text, host, scheme, script_root)
    if not found.path:
        return services.find_by_tag(session, found.code)
    tag = found.segment_after(TAG_PATH)
    if tag:
        return services.find_by_tag(session, tag)
    asset_id = found.segment_after(ASSET_PATH)
    if asset_id.isdigit() and len(asset_id) <= 10:
        return services.get_location(session, int(asset_id))
    raise DomainError(lazy_gettext("this label's link opens %(path)s on this server, which is not an asset: scan the "
                                   "asset's own label, or type its asset tag", path=found.path[:80]),
                      field="code", code="not_an_asset")  # fmt: skip


@bp.get("/tag/<asset_tag>")
@access.roles(*STAFF)
def asset_by_tag(asset_tag: str) -> Any:
    """What an asset label's QR code opens: the asset's page."""
    item = services.find_by_tag(_db(), asset_tag)
    return redirect(url_for("tracking.asset_detail", asset_id=item.id))


@bp.get("/scan")
@access.roles(*STAFF)
def scan_resolve() -> Any:
    """JSON for the scan button: `{"url", "asset_tag", "name"}`, or the one error shape naming the fix."""
    try:
        item = resolve(_db(), request.args.get("code", ""), request.host, request.scheme, request.script_root)
    except DomainError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, "field": exc.field or "code"}}
        return jsonify(body), 422 if exc.status == 400 else exc.status
    url = url_for("tracking.asset_detail", asset_id=item.id)
    return jsonify({"url": url, "asset_tag": item.asset_tag, "name": item.name})
