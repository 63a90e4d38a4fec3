"""Error mapping: one JSON error shape for the API, the form again for a bad field, error ids for the rest.

- `/api/` (and JSON callers) always get `{"error": {"code", "message", "field"}}`.
- A form post refused for a field (a `DomainError` with `field`, e.g. a `ValidationError`) answers 422 with
  the page that holds the form, the typed values kept and each bad field marked (see `web.form_marks`).
- Anything unexpected is logged under a short error id, which the person sees (page, JSON message and the
  `X-Error-Id` header); database error text, SQL and parameters never reach them. A constraint the checks
  did not foresee answers 409, a value the database refused 422, both with the id.
"""

from __future__ import annotations

import secrets
from io import BytesIO
from typing import Any
from urllib.parse import unquote_to_bytes, urlparse

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException

from core.access import access_of
from core.errors import DomainError
from core.texts import N_
from core.validation import ValidationError
from web.form_marks import mark_form
from web.principal import is_allowed

# The error page's heading and hint per status: message ids, shown in the reader's language (`_page`); a JSON
# error body of the API says its message in English, as the rest of the API does.
FRIENDLY = {
    400: (N_("That request could not be understood"), N_("Check the form or the data you sent and try again.")),
    401: (N_("Please log in"), N_("This page needs you to log in first.")),
    403: (N_("Not allowed"), N_("Your role does not give access to this page. Ask an administrator if you need it.")),
    404: (N_("Not found"), N_("That page or record does not exist. It may have been removed.")),
    405: (N_("Not allowed here"), N_("That action is not available on this page.")),
    409: (N_("Conflict"), N_("The record changed or is in a state that does not allow this.")),
    413: (N_("Too large"), N_("The upload is too large.")),
    415: (N_("Wrong kind of data"), N_("Send the data in the format this address expects.")),
    422: (N_("Check what you entered"), N_("A value is not valid: the message says which one and how to fix it.")),
    500: (N_("Something went wrong"), N_("The error was logged. Try again, and tell an administrator if it persists.")),
}

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal_error",
}
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def error_json(status: int, message: str, code: str | None = None, field: str | None = None) -> Any:
    body = {"error": {"code": code or CODES.get(status, "error"), "message": str(message), "field": field}}
    return jsonify(body), status


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path == "/healthz"
        or (request.accept_mimetypes.best == "application/json")
    )


def _own_description(exc: HTTPException) -> str | None:
    """What the code that raised `exc` said (`abort(400, description=...)`), not werkzeug's English default."""
    said = exc.description
    return str(said) if said and said != type(exc).description else None


def _unexpected_answer(exc: Exception, error_id: str) -> tuple[int, str, str]:
    """Status, code and message (in the caller's language: English for the API) of an unexpected error."""
    if isinstance(exc, IntegrityError):
        return 409, "conflict", gettext(
            "that conflicts with a record that exists already (a repeated code, or a reference to something "
            "missing): change the value and try again (error id %(error_id)s)", error_id=error_id
        )
    if isinstance(exc, DataError):
        return 422, "invalid", gettext(
            "a value does not fit (too long, too large or an invalid character): check it (error id %(error_id)s)",
            error_id=error_id,
        )
    return 500, "internal_error", gettext(
        "internal error, logged with error id %(error_id)s: tell an administrator", error_id=error_id
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Any:
        if _wants_json():
            return error_json(exc.status, exc.message, exc.code, exc.field)
        again = form_again(exc)
        if again is not None:
            return again
        return _page(_form_status(exc), str(exc.message))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if _wants_json():
            return error_json(status, exc.description or FRIENDLY.get(status, (N_("Error"), ""))[0])
        return _page(status, _own_description(exc) if status in (400, 409, 413) else None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        error_id = secrets.token_hex(5)
        app.logger.error("error id %s: %s %s failed", error_id, request.method, request.path, exc_info=exc)
        _rollback()
        status, code, message = _unexpected_answer(exc, error_id)
        if _wants_json():
            response, status = error_json(status, message, code)
        else:
            response = app.make_response(_page(status, message))
        response.headers["X-Error-Id"] = error_id
        return response, status


def _rollback() -> None:
    if "db" in g:
        try:
            g.db.rollback()
        except Exception:  # a dead connection: the teardown closes it
            current_app.logger.exception("rollback after an error failed")


def form_again(exc: DomainError) -> Any | None:
    """The page with the posted form, refilled and marked, when `exc` names a field of a form post."""
    if not exc.field or exc.status not in (400, 422) or request.method != "POST" or request.mimetype not in FORM_TYPES:
        return None  # not a bad field of a form post (a refusal or a conflict keeps its own page)
    found = exc.errors if isinstance(exc, ValidationError) else {exc.field: exc.message}
    errors = {name: str(text) for name, text in found.items()}  # a domain's lazy_gettext text, in this language
    status = _form_status(exc)
    _rollback()
    for url in _pages_holding_the_form():
        html = _render_get(url)
        if html is None:
            continue
        page_url = request.host_url.rstrip("/") + url
        marked = mark_form(html, page_url=page_url, posted_path=request.path, values=request.form, errors=errors)
        if marked is not None:
            return marked, status
    return None


def _form_status(exc: DomainError) -> int:
    """A form post refused for one of its fields is unprocessable input (422), whatever rule refused it."""
    posted_form = request.method == "POST" and request.mimetype in FORM_TYPES
    return 422 if exc.field and exc.status == 400 and posted_form else exc.status


def _pages_holding_the_form() -> list[str]:
    """The posted URL itself (its GET page), the page the browser posted from, then the page an action URL
    hangs under (/procurement/po/P-1/receive -> /procurement/po/P-1) for clients that send no Referer."""
    pages = [request.full_path.rstrip("?")]
    referrer = urlparse(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        pages.append(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    parent = request.path.rstrip("/").rpartition("/")[0]
    if parent.count("/") >= 2:
        pages.append(parent)
    return list(dict.fromkeys(pages))


def _render_get(url: str) -> str | None:
    """Render `url` as a GET by the same caller, in this request's app context; None when it cannot."""
    target = urlparse(url)
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, args = adapter.match(target.path, method="GET")
    except HTTPException:
        return None
    view = current_app.view_functions[endpoint]
    rule = access_of(view)
    if rule is None or not is_allowed(rule, g.get("principal")):
        return None
    environ = dict(request.environ)
    environ.update(
        REQUEST_METHOD="GET",
        PATH_INFO=unquote_to_bytes(target.path).decode("latin-1"),
        QUERY_STRING=target.query,
        CONTENT_LENGTH="0",
    )
    environ["wsgi.input"] = BytesIO(b"")
    environ.pop("CONTENT_TYPE", None)
    try:
        with current_app.request_context(environ):
            answer: Any = view(**args)
            response = current_app.make_response(answer)
    except Exception:
        current_app.logger.exception("could not render %s to show the form again", url)
        _rollback()
        return None
    if response.status_code != 200 or response.mimetype != "text/html":
        return None
    return response.get_data(as_text=True)


def _page(status: int, detail: str | None) -> Any:
    """The error page in the reader's language: the status's heading, and the detail or else the status's hint."""
    title, hint = FRIENDLY.get(status, (N_("Error"), ""))
    shown_hint = detail or (gettext(hint) if hint else "")
    return render_template("error.html", status=status, title=gettext(title), hint=shown_hint), status
