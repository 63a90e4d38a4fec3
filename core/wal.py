"""SQLite WAL checkpoints off the request path: a background thread copies the log into the database when idle.

By default SQLite checkpoints inside whichever commit pushes the write-ahead log past 1000 pages, so every
thirtieth dispense or so pays for copying pages and syncing the database file. While a `WalCheckpointer`
runs, connections of its engine stop checkpointing on commit (`wal_autocheckpoint=0`, applied when a
connection is checked out) and the thread checkpoints instead, PASSIVE (it never waits for readers or
writers): once the log has stopped changing for `idle_seconds` (between a site's bursts of dispenses), or
after `max_busy_seconds` of uninterrupted writing, so the log stays bounded. Checkpointing during a burst
measurably slows the dispenses around it (bench/dispense.py at 200k rows: p50 +0.4 ms, p99 +0.7 to +2.3
ms). When the thread stops, connections go back to automatic checkpoints, so a process without it never
grows the log without bound. Measured for issue 16 (1M-row ledger, one dispense every ~65 ms without a
pause): the max_busy_seconds checkpoint of a minute's log landed inside one dispense in about a thousand (its
BEGIN waited 26 and 122 ms in two runs, load 8 to 10); a kiosk's door waits give the idle checkpoint its
chance long before that in practice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from weakref import WeakSet

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

SQLITE_DEFAULT_AUTOCHECKPOINT = 1000  # pages; SQLite's own default
_BACKGROUND: WeakSet[Engine] = WeakSet()  # engines whose log a checkpointer thread looks after
_WATCHED: WeakSet[Engine] = WeakSet()


def is_file_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def checkpointers_for(engine: Engine) -> list[WalCheckpointer]:
    """The checkpointer a process serving `engine` runs: one for a SQLite file, none for PostgreSQL (its own
    checkpointer process writes its WAL) or an in-memory SQLite (no log). `vendtrack serve`, the demos and the
    dispense benchmark all decide here, so none of them builds one for a database it does not apply to."""
    return [WalCheckpointer(engine)] if is_file_sqlite(engine) else []


def _watch(engine: Engine) -> None:
    if engine in _WATCHED:
        return
    _WATCHED.add(engine)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        wanted = 0 if engine in _BACKGROUND else SQLITE_DEFAULT_AUTOCHECKPOINT
        if record.info.get("wal_autocheckpoint") != wanted:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA wal_autocheckpoint={wanted}")
            cursor.close()
            record.info["wal_autocheckpoint"] = wanted


class WalCheckpointer:
    """A daemon thread that checkpoints one SQLite engine's write-ahead log when writing pauses."""

    def __init__(
        self,
        engine: Engine,
        interval: float = 0.5,
        idle_seconds: float = 2.0,
        max_busy_seconds: float = 60.0,
        name: str = "sqlite-wal-checkpointer",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not is_file_sqlite(engine):
            raise ValueError("WAL checkpoints apply to a SQLite database file, not to this database")
        self.engine, self.interval, self.name = engine, interval, name
        self.idle_seconds, self.max_busy_seconds = idle_seconds, max_busy_seconds
        self._wal = Path(f"{engine.url.database}-wal")
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: tuple[int, int] | None = None  # (size, mtime) of the log at the last look
        self._changed_at = 0.0
        self._busy_since: float | None = None  # first change not yet checkpointed
        self.last_result: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed frames)
        self.checkpoints = 0
        _watch(engine)

    def start(self) -> None:
        _BACKGROUND.add(self.engine)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        _BACKGROUND.discard(self.engine)
        try:
            self.checkpoint()  # leave the log checkpointed for the next process
        except Exception:
            log.exception("final WAL checkpoint failed")

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: copies what it can without waiting for anyone."""
        raw = self.engine.raw_connection()  # outside any transaction: SQLAlchemy's begin would take the write lock
        try:
            cursor = raw.cursor()
            row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        self.last_result = (int(row[0]), int(row[1]), int(row[2]))
        self.checkpoints += 1
        return self.last_result

    def tick(self) -> bool:
        """Look at the log once; checkpoint when writing has paused (or gone on too long). True if it did."""
        now = self._monotonic()
        seen = self._look()
        if seen != self._seen:
            self._seen, self._changed_at = seen, now
            if self._busy_since is None:
                self._busy_since = now
        if self._busy_since is None:
            return False
        if now - self._changed_at < self.idle_seconds and now - self._busy_since < self.max_busy_seconds:
            return False
        self.checkpoint()
        self._busy_since, self._seen = None, self._look()
        return True

    def _look(self) -> tuple[int, int]:
        try:
            found = self._wal.stat()
        except FileNotFoundError:
            return (0, 0)
        return (found.st_size, found.st_mtime_ns)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("WAL checkpoint failed; the next one retries")
