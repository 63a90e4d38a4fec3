"""SQLite's write lock as a queue: writers of every process take turns on a lock file instead of busy backoff.

SQLite gives its write lock to whoever asks when it is free; a writer that finds it taken sleeps in SQLite's
busy handler (1, 2, 5, ... up to 100 ms between tries) and can lose to newer arrivals again and again, so
under steady writes from several processes a short INSERT waited hundreds of milliseconds (the gateway POST
of bench/web_load.py: p99 0.6-0.9 s). The gate is an exclusive `flock` on `<database>-writegate`, taken just
before BEGIN IMMEDIATE and released when the transaction ends: a waiter sleeps in the kernel (no CPU, no
GIL) and is woken when the holder lets go. The kernel releases the lock of a process that dies.

Each pooled connection has its own descriptor of the lock file (a lock per open file, so two threads of one
process queue too). A thread that already holds the gate through one connection and begins a write on a
second does not queue on the gate for it (it would wait for itself forever): that second BEGIN IMMEDIATE
falls back to SQLite's busy timeout as before. `install(engine, path)` is called by `core.db.make_engine` for
SQLite files; `core.prepared.fast_unit_of_work` enters and leaves it around its own transactions.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

_FD, _HELD, _PATH = "write_gate_fd", "write_gate_held", "vendtrack_write_gate"
_local = threading.local()


def path_for(database: str) -> str:
    """The gate's lock file beside a SQLite database file."""
    return f"{database}-writegate"


def install(engine: Engine, path: str) -> None:
    """Gate the engine's write transactions: the caller enters in its BEGIN; commit and rollback leave (the
    dialect's own, so the Session's, a Connection's and the pool's reset rollback all do)."""
    dialect: Any = engine.dialect
    setattr(dialect, _PATH, path)
    commit: Callable[[Any], None] = dialect.do_commit
    rollback: Callable[[Any], None] = dialect.do_rollback

    def do_commit(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            leave(connection)

    def do_rollback(connection: Any) -> None:
        try:
            rollback(connection)
        finally:
            leave(connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "close")
    def _closed(_dbapi_connection: Any, record: Any) -> None:
        _close(record.info)

    @event.listens_for(engine, "detach")
    def _detached(_dbapi_connection: Any, record: Any) -> None:
        _close(record.info)


def gate_of(engine: Engine) -> str | None:
    """The lock file gating this engine's writes, or None."""
    found: str | None = getattr(engine.dialect, _PATH, None)
    return found


def enter(connection: Any, path: str) -> None:
    """Wait for the gate for `connection` (a pooled connection: its `info` keeps the descriptor)."""
    info = connection.info
    if info.get(_HELD) or held_here():
        return  # held already; or by this thread through another connection: SQLite's busy timeout decides
    fd = info.get(_FD)
    if fd is None:
        fd = info[_FD] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    info[_HELD] = True
    _local.holder = info


def leave(connection: Any) -> None:
    """Let the next writer in, if `connection` holds the gate."""
    try:
        info = connection.info
    except NotImplementedError:  # the dialect's first connect rolls back an ad hoc proxy that has no info
        return
    if info.pop(_HELD, False):
        fcntl.flock(info[_FD], fcntl.LOCK_UN)


def held_here() -> bool:
    """Whether this thread holds the gate (for tests and checks)."""
    holder: dict[str, Any] | None = getattr(_local, "holder", None)
    return holder is not None and bool(holder.get(_HELD))


def _close(info: dict[str, Any]) -> None:
    fd = info.pop(_FD, None)
    if fd is not None:
        if info.pop(_HELD, False):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
