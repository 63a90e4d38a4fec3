"""The JSON API root under /api/v1: token introspection and helpers for reading JSON bodies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import access
from core.errors import DomainError
from core.events import EventFormatError, from_json
from core.outbox import OutboxEvent, publish
from core.roles import Role, TokenScope
from web import session
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


@bp.route("/events", methods=["POST"])
@access.token(TokenScope.DEVICE)
def receive_event() -> Any:
    """An edge installation forwards one of its events (core.forward): stored once by its event id, then
    delivered to this installation's consumers like a local event. A resend answers "duplicate"."""
    json_body()  # the same clear errors as every JSON endpoint
    try:
        evt = from_json(request.get_data(as_text=True))
    except EventFormatError as exc:
        raise DomainError(f"not a vendtrack event: {exc}", field="body", code="invalid_event", status=422) from None
    db = session.db()
    if db.scalar(select(OutboxEvent.id).where(OutboxEvent.event_key == evt.event_id)) is not None:
        return jsonify({"status": "duplicate", "event_id": evt.event_id})
    try:
        publish(db, evt)
        db.commit()
    except IntegrityError:  # the same event arrived twice at once: the other request stored it
        db.rollback()
        return jsonify({"status": "duplicate", "event_id": evt.event_id})
    return jsonify({"status": "accepted", "event_id": evt.event_id}), 201
