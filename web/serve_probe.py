"""/livez: a constant answer through the whole app stack, no database: a liveness probe and the bare bench endpoint."""

from __future__ import annotations

from flask import Blueprint, Response

from core import access

bp = Blueprint("serve_probe", __name__)


@bp.route("/livez")
@access.public
def livez() -> Response:
    """The process answers requests (readiness, with the database and workers, is /healthz)."""
    return Response("ok\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})
