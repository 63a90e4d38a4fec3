"""Shared fixtures: every database test runs on SQLite and, when VENDTRACK_TEST_DATABASE_URL is set, PostgreSQL.

PostgreSQL runs get a database of their own per pytest process (created and dropped here), so
parallel runs on one server never see each other; tables are truncated between tests.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.db import Base, make_engine, make_session_factory
from migrations.models import load_all_models
from tests.support import TestBase

PG_ENV = "VENDTRACK_TEST_DATABASE_URL"
CHROMIUM = "/usr/bin/chromium"


def _backends() -> list[Any]:
    backends: list[Any] = ["sqlite"]
    backends.append(
        pytest.param("postgresql", marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"))
    )
    return backends


class _PostgresServer:
    """Creates one throwaway database per pytest process on the server named by VENDTRACK_TEST_DATABASE_URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = make_url(base_url)
        self.admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self, prefix: str = "vt") -> str:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_PostgresServer | None]:
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    server = _PostgresServer(url)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def _pg_schema_url(postgres_server: _PostgresServer | None) -> Iterator[str | None]:
    """A PostgreSQL database with the whole schema, created once per test session."""
    if postgres_server is None:
        yield None
        return
    url = postgres_server.create_database()
    engine = make_engine(url)
    load_all_models().create_all(engine)
    TestBase.metadata.create_all(engine)
    engine.dispose()
    yield url


def _truncate_all(engine: Engine) -> None:
    all_tables = [*load_all_models().sorted_tables, *TestBase.metadata.sorted_tables]
    tables = ", ".join(f'"{t.name}"' for t in all_tables)
    with engine.begin() as conn:
        # A connection an earlier test left idle inside a transaction would hold TRUNCATE's lock forever (seen on a
        # loaded CI run as a 300 s setup timeout): end such leaks, then wait for locks at most 60 s, saying so.
        leaked = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
            "pg_backend_pid() AND state = 'idle in transaction' AND state_change < now() - interval '30 seconds'"
        )
        conn.execute(text(leaked))
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _pg_schema_url: str | None) -> Iterator[str]:
    """A database with the full schema and no rows: a fresh SQLite file, or the truncated PostgreSQL test DB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        load_all_models().create_all(engine)
        TestBase.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    assert _pg_schema_url is not None
    engine = make_engine(_pg_schema_url)
    _truncate_all(engine)
    engine.dispose()
    yield _pg_schema_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_server: _PostgresServer | None) -> str:
    """A database with no tables at all, on SQLite and PostgreSQL: for tests that migrate it step by step."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    if postgres_server is None:
        pytest.skip(f"{PG_ENV} not set")
    return postgres_server.create_database("vt_empty")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s
        s.rollback()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    from web.app import create_app

    return create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"login as {username} failed: {response.status_code}"


# ---- live server and browser -----------------------------------------------------------------


class LiveServer:
    def __init__(self, app: Flask, port: int = 0) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    yield pg
    context.close()


__all__ = ["Base", "LiveServer", "csrf_from", "login"]
