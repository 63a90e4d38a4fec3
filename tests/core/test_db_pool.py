"""core.db's PostgreSQL pool: a connection idle past the threshold is pinged (and replaced when dead), a
connection back within it is handed out without the round trip."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core.db import make_engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        conn.commit()
    time.sleep(0.2)  # let the backend exit before the pool hands its connection out again


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("the idle ping is PostgreSQL's pool; SQLite opens files and needs none")
    return database_url


def test_an_idle_connection_dropped_by_the_server_is_replaced(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1, ping_after_idle_s=0.1)
    admin = make_engine(postgres_url)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)  # as a server restart or a firewall would
        assert _backend_pid(engine) != first  # pinged, found dead, replaced: the caller never saw it
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_back_within_the_threshold_is_not_pinged(postgres_url: str) -> None:
    """The trade-off, stated: a connection killed less than `ping_after_idle_s` after it was returned reaches
    the caller as it is (one failed statement; the pool then replaces it)."""
    engine = make_engine(postgres_url, pool_size=1, ping_after_idle_s=3600)
    admin = make_engine(postgres_url)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
        admin.dispose()
