"""One database session per request: created on first use, committed by the view, closed on teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from core.runtime import AppServices


def services() -> AppServices:
    return current_app.extensions["vendtrack"]


def db() -> Session:
    """The request's session. Views call services with it, then `db().commit()`."""
    if "db" not in g:
        g.db = services().session_factory()
    return g.db


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()  # anything the view did not commit is discarded
            session.close()
