"""One JSON error shape for the API and friendly HTML error pages for people."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from core.errors import DomainError

FRIENDLY = {
    400: ("That request could not be understood", "Check the form or the data you sent and try again."),
    401: ("Please log in", "This page needs you to log in first."),
    403: ("Not allowed", "Your role does not give access to this page. Ask an administrator if you need it."),
    404: ("Not found", "That page or record does not exist. It may have been removed."),
    405: ("Not allowed here", "That action is not available on this page."),
    409: ("Conflict", "The record changed or is in a state that does not allow this."),
    413: ("Too large", "The upload is too large."),
    500: ("Something went wrong", "The error was logged. Try again, and tell an administrator if it persists."),
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


def error_json(status: int, message: str, code: str | None = None, field: str | None = None) -> Any:
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "field": field}}
    return jsonify(body), status


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path == "/healthz"
        or (request.accept_mimetypes.best == "application/json")
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Any:
        if _wants_json():
            return error_json(exc.status, exc.message, exc.code, exc.field)
        return _page(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if _wants_json():
            return error_json(status, exc.description or FRIENDLY.get(status, ("Error", ""))[0])
        detail = exc.description if status in (400, 409, 413) and exc.description else None
        return _page(status, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error on %s", request.path)
        if _wants_json():
            return error_json(500, "internal error; it was logged")
        return _page(500, None)


def _page(status: int, detail: str | None) -> Any:
    title, hint = FRIENDLY.get(status, ("Error", ""))
    return render_template("error.html", status=status, title=title, hint=detail or hint), status
