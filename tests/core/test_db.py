"""Engines from core.db: SQLite's read-only engine reads beside a writer and cannot write (the idle ping of pooled
PostgreSQL connections: tests/core/test_db_pool.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import make_engine


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
