"""The JSON API root under /api/v1: token introspection, helpers for reading JSON bodies, and the events inbox."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import access, audit, event_scope
from core.errors import DomainError
from core.event_scope import Refused
from core.events import Event, EventFormatError, from_json
from core.models import Site
from core.outbox import OutboxEvent, publish
from core.roles import Role, TokenScope
from web import session
from web.auth import Principal, require_principal
from web.domains import hook
from web.errors import error_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise DomainError(
            gettext("send the body as JSON with Content-Type: application/json"),
            field="body",
            code="unsupported_media_type",
            status=415,
        )
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise DomainError(
            gettext("the body is nested too deeply: send a flat JSON object"), field="body", code="invalid_json"
        ) from None
    if data is None:
        raise DomainError(
            gettext("the body is not valid JSON: check quotes, commas and brackets"), field="body", code="invalid_json"
        )
    if not isinstance(data, dict):
        raise DomainError(gettext("the body must be a JSON object ({...})"), field="body", code="invalid_json")
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
@access.token(TokenScope.DEVICE, TokenScope.EDGE)
def receive_event() -> Any:
    """An edge forwards one of its site's events (core.forward), or a device one of its machine's: checked against
    the token (core.event_scope) before anything stores or consumes it, then stored once by its event id and
    delivered to this installation's consumers like a local event. A resend answers "duplicate"; another event
    under a used id is refused. Every refusal of a well-formed event is written to the audit log."""
    json_body()  # the same clear errors as every JSON endpoint
    try:
        evt = from_json(request.get_data(as_text=True))
    except EventFormatError as exc:
        raise DomainError(
            gettext("not a vendtrack event: %(exc)s", exc=exc), field="body", code="invalid_event", status=422
        ) from None
    except RecursionError:
        raise DomainError(
            gettext("the event is nested too deeply"), field="body", code="invalid_event", status=422
        ) from None
    principal = require_principal()
    db = session.db()
    if not EVENT_ID.fullmatch(evt.event_id):
        return _refuse(principal, evt, 422, Refused("invalid_event_id", EVENT_ID_RULE, "data.event_id"))
    refused = event_scope.check(_binding(db, principal), evt, lambda code: _machine_site(db, code))
    if refused is not None:
        return _refuse(principal, evt, 403, refused)
    stored = db.scalar(select(OutboxEvent.payload).where(OutboxEvent.event_key == evt.event_id))
    if stored is not None:
        return _duplicate(principal, evt, stored)
    try:
        publish(db, evt)
        db.commit()
    except IntegrityError:  # the same event arrived twice at once: the other request stored it
        db.rollback()
        stored = db.scalar(select(OutboxEvent.payload).where(OutboxEvent.event_key == evt.event_id))
        return _duplicate(principal, evt, stored or "")
    return jsonify({"status": "accepted", "event_id": evt.event_id}), 201


EVENT_ID = re.compile(r"[0-9A-Za-z_-]{8,64}")
EVENT_ID_RULE = "event_id must be 8 to 64 letters, digits, '-' or '_' (vendtrack sends 32 hex digits)"


def _binding(db: Session, principal: Principal) -> event_scope.Binding:
    site_code = db.scalar(select(Site.code).where(Site.id == principal.site_id)) if principal.site_id else None
    machine_code = None
    for plugin in current_app.extensions.get("vendtrack_plugins", []):
        if (token_machine := hook(plugin, "token_machine")) is not None:
            machine_code = machine_code or token_machine(db, principal.id)
    return event_scope.Binding(principal.scopes, site_code, machine_code)


def _machine_site(db: Session, machine_code: str) -> str | None:
    for plugin in current_app.extensions.get("vendtrack_plugins", []):
        if (machine_site := hook(plugin, "machine_site")) is not None and (site := machine_site(db, machine_code)):
            return str(site)
    return None


def _duplicate(principal: Principal, evt: Event, stored: str) -> Any:
    if _same_event(stored, evt):
        return jsonify({"status": "duplicate", "event_id": evt.event_id})
    refused = Refused("event_id_taken", f"event id {evt.event_id} belongs to another event: use a new id",
                      "data.event_id")  # fmt: skip
    return _refuse(principal, evt, 409, refused)


def _same_event(stored: str, evt: Event) -> bool:
    try:
        return bool(json.loads(stored) == json.loads(evt.to_json()))
    except ValueError:
        return False


def _refuse(principal: Principal, evt: Event, status: int, refused: Refused) -> Any:
    """Answer with the error shape and write who tried what and why to the audit log (its own transaction)."""
    db = session.db()
    db.rollback()
    audit.record(
        db,
        principal.actor,
        "api.event_refused",
        "api_token",
        principal.id,
        after={
            "event_type": evt.event_type,
            "event_id": evt.event_id[:64],
            "site_code": str(getattr(evt, "site_code", ""))[:64],
            "machine": str(getattr(evt, "machine", ""))[:64],
            "reason": refused.code,
            "message": refused.message[:300],
        },
        clock=session.services().clock,
    )
    db.commit()
    return error_json(status, refused.message, refused.code, refused.field)
