"""core.write_gate: SQLite writers of two processes queue on the gate (the second is woken when the first commits,
and a writer that died frees it); a thread that already writes falls back to the busy timeout, never waits for
itself. SQLite only: PostgreSQL has row locks and no database-wide write lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core import write_gate
from core.db import make_engine
from core.prepared import Prepared, fast_unit_of_work
from tests.support import wait_until

# The other process: takes the gate with a write transaction, says so, and commits when told (or dies if told).
HOLDER = """
import sys
from sqlalchemy import text
from core.db import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(text("INSERT INTO t (who) VALUES ('holder')"))
    print("holding", flush=True)
    if sys.stdin.readline().strip() == "die":
        import os
        os._exit(3)
print("committed", flush=True)
"""


def _engine(tmp_path: Path, **options: object) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/gate.db", **options)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, who TEXT)"))
    return engine


def _holder(tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", HOLDER, f"sqlite:///{tmp_path}/gate.db"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "holding"
    return child


def _someone_waits_on(path: str) -> bool:
    """/proc/locks marks a process blocked on a lock with '->': is one blocked on the gate's file?"""
    inode = os.stat(path).st_ino
    return any(
        line.split()[1] == "->" and line.split()[6].endswith(f":{inode}")
        for line in Path("/proc/locks").read_text().splitlines()
        if "FLOCK" in line
    )


def _write_in_thread(engine: Engine, done: list[str]) -> threading.Thread:
    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('waiter')"))
        done.append("waiter")

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_writer_waits_for_another_process_on_the_gate_and_goes_in_when_it_commits(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    child = _holder(tmp_path)
    done: list[str] = []
    try:
        thread = _write_in_thread(engine, done)
        wait_until(lambda: _someone_waits_on(f"{tmp_path}/gate.db-writegate"), what="the writer to queue on the gate")
        assert done == []  # queued on the gate, not in SQLite's busy handler (it is in the kernel's lock queue)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("commit\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "committed"
        thread.join(timeout=30)
        assert done == ["waiter"]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["holder", "waiter"]
    finally:
        child.kill()
        child.wait()
        engine.dispose()


def test_a_writer_that_dies_holding_the_gate_frees_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    child = _holder(tmp_path)
    done: list[str] = []
    try:
        thread = _write_in_thread(engine, done)
        wait_until(lambda: _someone_waits_on(f"{tmp_path}/gate.db-writegate"), what="the writer to queue on the gate")
        assert child.stdin is not None
        child.stdin.write("die\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 3
        thread.join(timeout=30)
        assert done == ["waiter"]
        with engine.connect() as conn:  # the dead process's transaction was never committed
            assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["waiter"]
    finally:
        engine.dispose()


def test_a_thread_that_already_writes_gets_the_busy_timeout_not_a_wait_for_itself(tmp_path: Path) -> None:
    engine = _engine(tmp_path, connect_args={"check_same_thread": False, "timeout": 0.2})
    try:
        with engine.begin() as holding:
            holding.execute(text("INSERT INTO t (who) VALUES ('first')"))
            assert write_gate.held_here()
            with pytest.raises(OperationalError, match="locked"), engine.begin() as second:
                second.execute(text("INSERT INTO t (who) VALUES ('second')"))
        assert not write_gate.held_here()
        with fast_unit_of_work(engine) as work:  # the prepared path takes and leaves the gate too
            assert write_gate.held_here()
            work.execute(Prepared(text("INSERT INTO t (who) VALUES ('fast')")))
        assert not write_gate.held_here()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["first", "fast"]
    finally:
        engine.dispose()


def test_read_only_engines_and_memory_databases_have_no_gate(tmp_path: Path) -> None:
    engines = [make_engine(f"sqlite:///{tmp_path}/gate.db", read_only=True), make_engine("sqlite://"),
               make_engine(f"sqlite:///{tmp_path}/gate.db", write_gate=False)]  # fmt: skip
    assert [write_gate.gate_of(e) for e in engines] == [None, None, None]
    assert write_gate.gate_of(make_engine(f"sqlite:///{tmp_path}/gate.db")) == f"{tmp_path}/gate.db-writegate"
