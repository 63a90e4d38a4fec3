"""One database session per request: created on first use, committed by the view, closed on teardown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.prepared import FastWork
from core.runtime import AppServices

READ_FACTORY = "vendtrack_read_factory"
ENGINE = "vendtrack_engine"


def services() -> AppServices:
    return current_app.extensions["vendtrack"]


def db() -> Session:
    """The request's session. Views call services with it, then `db().commit()`.

    Where reads and writes share one engine (PostgreSQL), a read connection the request holds (`read_work`) goes
    back to the pool first, so a request never holds two of the pool's connections (two per request could starve
    the pool under load); later `read_work()` calls read through this session."""
    if "db" not in g:
        work = g.get("read_work")
        if work is not None and current_app.extensions.get(READ_FACTORY) is None:
            _release(g.pop("read_work"))
        g.db = services().session_factory()
    return g.db


def read_db() -> Session:
    """The request's session for reading only (the access check, views that write nothing).

    On a SQLite file it is a session of its own on a read-only engine: its transaction takes no write lock, so
    reads from every process and thread run side by side with one writer. Elsewhere (PostgreSQL, where reads
    never wait for writers) it is `db()`. Writing through it fails on SQLite: use `db()` to write."""
    factory: sessionmaker[Session] | None = current_app.extensions.get(READ_FACTORY)
    if factory is None:
        return db()
    if "read_db" not in g:
        g.read_db = factory()
    return g.read_db


def read_work() -> FastWork:
    """Prepared statements for a view that only reads (`core.prepared`), without a Session.

    When the request already holds the session `read_db()` gives, its connection. Else a pooled DBAPI
    connection of the read engine, held until teardown: on a SQLite file the read-only engine, whose statements
    run outside any transaction (each sees the last commit, takes no lock); on PostgreSQL the app's engine in
    autocommit mode (each statement sees the last commit; no BEGIN or ROLLBACK round trips). A view that reads
    several statements that must agree with each other uses `read_db()` instead."""
    work: FastWork | None = g.get("read_work")
    if work is not None:
        return work
    factory: sessionmaker[Session] | None = current_app.extensions.get(READ_FACTORY)
    held = g.get("read_db") if factory is not None else g.get("db")  # what read_db() would give, if open
    if held is not None:
        return FastWork.of(held)
    engine: Engine = factory.kw["bind"] if factory is not None else current_app.extensions[ENGINE]
    connection = engine.raw_connection()
    if engine.dialect.name == "postgresql":
        connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
    g.read_work = work = FastWork(connection, engine)
    return work


@contextmanager
def brief_read() -> Iterator[FastWork]:
    """`read_work()` when the request holds it already; else a pooled connection for the statements of this block
    only (the token check: most requests then hold no connection until their view needs one)."""
    held = g.get("read_work")
    if held is not None or "db" in g or "read_db" in g:
        yield read_work()
        return
    work = read_work()
    try:
        yield work
    finally:
        if g.get("read_work") is work:
            _release(g.pop("read_work"))


def _release(work: FastWork) -> None:
    """Give the connection back to the pool; the FastWork cannot be used after (it fails loudly if it is)."""
    connection: Any = work.connection
    work.connection = None
    try:
        if work.engine.dialect.name == "postgresql":
            connection.dbapi_connection.autocommit = False  # as the pool hands connections to everyone else
    except Exception:
        connection.invalidate()  # a broken connection: never back to the pool in autocommit mode
    connection.close()


def read_factory_for(url: str, engine: Engine) -> sessionmaker[Session] | None:
    """The read-only session factory a SQLite file gets (None: read through the ordinary session)."""
    if engine.dialect.name != "sqlite" or url in {"sqlite://", "sqlite:///:memory:"}:
        return None
    # A request may hold its read connection while it queues for the write lock (a kiosk opening its event
    # stream); reads must never also queue for a pooled connection, so the pool grows as threads need it.
    return make_session_factory(make_engine(url, read_only=True, pool_size=16, max_overflow=-1))


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        work = g.pop("read_work", None)
        if work is not None:
            _release(work)
        for name in ("db", "read_db"):
            session = g.pop(name, None)
            if session is not None:
                session.rollback()  # anything the view did not commit is discarded
                session.close()
