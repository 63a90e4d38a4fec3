"""CSRF protection for every form: a per-session token checked on every unsafe request outside the API."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session
from flask_babel import gettext
from markupsafe import Markup

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return str(session[FIELD])


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token())


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check_csrf() -> None:
        if request.method in SAFE_METHODS or app.config.get("CSRF_DISABLED"):
            return
        if request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer "):
            return  # bearer-token API calls carry no ambient credentials, so CSRF does not apply
        if getattr(app.view_functions.get(request.endpoint or ""), "csrf_exempt", False):
            return  # a machine endpoint authenticated by what the document carries (e.g. a cXML SharedSecret)
        sent = request.form.get(FIELD) or request.headers.get(HEADER, "")
        expected = session.get(FIELD)
        if not expected or not sent or not hmac.compare_digest(_bytes(sent), _bytes(expected)):
            abort(
                400,
                description=gettext(
                    "The form has expired or was not sent from this site: reload the page and try again."
                ),
            )


def _bytes(token: object) -> bytes:
    """compare_digest refuses str with non-ASCII characters: compare the UTF-8 bytes of whatever was sent."""
    return str(token).encode("utf-8", "replace")
