"""Engines from core.db: a PostgreSQL connection dropped while idle in the pool is replaced before a request gets
it; SQLite's read-only engine reads beside a writer and cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core import db as core_db
from core.db import make_engine


def test_a_connection_dropped_while_idle_is_replaced(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    admin = make_engine(database_url)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.begin() as conn:  # the pooled connection dies while it waits in the pool
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        monkeypatch.setattr(core_db, "IDLE_PING_AFTER_S", 0.0)  # it has been idle "long enough"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()
        admin.dispose()


def test_read_only_sqlite_engine_reads_beside_a_writer_and_refuses_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    writer, reader = make_engine(url), make_engine(url, read_only=True)
    try:
        with writer.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with writer.begin() as holding:  # BEGIN IMMEDIATE: the write lock is held until this block ends
            holding.execute(text("UPDATE t SET n = 2"))
            with reader.connect() as conn:  # a reader queued for the lock would wait out the busy timeout
                assert conn.execute(text("SELECT n FROM t")).scalar_one() == 1
        with reader.connect() as conn, pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (3)"))
    finally:
        writer.dispose()
        reader.dispose()
