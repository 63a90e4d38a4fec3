"""WalCheckpointer: commits stop checkpointing while it runs, it keeps the log checkpointed, and it gives the
job back to SQLite when it stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert

from core.db import make_engine
from core.wal import WalCheckpointer, checkpointers_for
from tests.support import wait_until

ROWS = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("body", String))


def _write(engine: object, count: int) -> None:
    for n in range(count):
        with engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(insert(ROWS), [{"body": f"{n}-{k}-" + "x" * 3000} for k in range(4)])


def _autocheckpoint(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())


def test_commits_leave_checkpoints_to_the_thread_and_it_keeps_up(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    ROWS.metadata.create_all(engine)
    checkpointer = WalCheckpointer(engine, interval=3600)  # driven by hand below
    checkpointer.start()
    try:
        assert _autocheckpoint(engine) == 0
        _write(engine, 400)  # ~1600 pages: past SQLite's 1000-page automatic checkpoint
        busy, frames, copied = checkpointer.checkpoint()
        assert frames > 1000, "commits checkpointed (and reset) the log themselves"
        assert (busy, copied) == (0, frames)
    finally:
        checkpointer.stop()
    assert _autocheckpoint(engine) == 1000
    engine.dispose()


def test_without_the_thread_sqlite_checkpoints_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    engine = make_engine(f"sqlite:///{path}")
    ROWS.metadata.create_all(engine)
    _write(engine, 400)
    raw = engine.raw_connection()
    try:
        _busy, frames, _copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    assert frames < 1000, "the log grew past the automatic checkpoint"
    engine.dispose()


def test_the_thread_checkpoints_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "loop.db"
    engine = make_engine(f"sqlite:///{path}")
    ROWS.metadata.create_all(engine)
    checkpointer = WalCheckpointer(engine, interval=0.05, idle_seconds=0.1)
    checkpointer.start()
    try:
        _write(engine, 50)

        def checkpointed() -> bool:
            result = checkpointer.last_result
            return result is not None and result[1] == result[2] > 0

        wait_until(checkpointed, what="a checkpoint that moved every page of the log")
    finally:
        checkpointer.stop()
    engine.dispose()


def test_refuses_a_database_without_a_log() -> None:
    with pytest.raises(ValueError, match="SQLite database file"):
        WalCheckpointer(make_engine("sqlite://"))


def test_it_waits_for_writing_to_pause_but_not_for_ever(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'idle.db'}")
    ROWS.metadata.create_all(engine)
    now = [0.0]
    checkpointer = WalCheckpointer(engine, idle_seconds=2.0, max_busy_seconds=10.0, monotonic=lambda: now[0])
    checkpointer.start()  # its own thread looks every 0.5 s of real time; the ticks below use the fake clock
    checkpointer.stop()  # keep only the connection setting: drive it by hand
    from core.wal import _BACKGROUND

    _BACKGROUND.add(engine)
    try:
        checkpointer.checkpoint()
        done = checkpointer.checkpoints
        assert checkpointer.tick() is False  # nothing written since
        _write(engine, 5)
        now[0] += 1.0
        assert checkpointer.tick() is False, "writing just happened: not idle yet"
        now[0] += 2.0
        assert checkpointer.tick() is True and checkpointer.checkpoints == done + 1, "idle for 2 s: checkpoint"
        assert checkpointer.tick() is False
        for _ in range(12):  # a burst that never pauses for 2 s
            _write(engine, 1)
            now[0] += 1.0
            checkpointer.tick()
        assert checkpointer.checkpoints == done + 2, "after 10 s of uninterrupted writing it checkpoints anyway"
    finally:
        _BACKGROUND.discard(engine)
        engine.dispose()


def test_a_serving_process_checkpoints_only_a_sqlite_file(engine: Engine) -> None:
    """`vendtrack serve`, the demos and bench/dispense.py take their checkpointer from here: on PostgreSQL (or an
    in-memory SQLite) there is none, where building one raises."""
    found = checkpointers_for(engine)
    if engine.dialect.name == "sqlite":
        assert [type(c) for c in found] == [WalCheckpointer]
        assert found[0].engine is engine
    else:
        assert found == []
        with pytest.raises(ValueError, match="SQLite database file"):
            WalCheckpointer(engine)
    assert checkpointers_for(make_engine("sqlite://")) == []
