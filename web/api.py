"""The JSON API root under /api/v1: token introspection and helpers for reading JSON bodies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from core import access
from core.errors import DomainError
from core.roles import Role, TokenScope
from web.auth import require_principal

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise DomainError(
            "send the body as JSON with Content-Type: application/json",
            field="body",
            code="unsupported_media_type",
            status=415,
        )
    data = request.get_json(silent=True)
    if data is None:
        raise DomainError(
            "the body is not valid JSON: check quotes, commas and brackets", field="body", code="invalid_json"
        )
    if not isinstance(data, dict):
        raise DomainError("the body must be a JSON object ({...})", field="body", code="invalid_json")
    return data


@bp.route("/whoami")
@access.roles(*Role, scopes=tuple(TokenScope))  # every user and every token
def whoami() -> Any:
    principal = require_principal()
    return jsonify(
        {
            "kind": principal.kind,
            "name": principal.name,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
        }
    )
