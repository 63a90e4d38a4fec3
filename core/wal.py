"""SQLite WAL checkpoints off the request path: a background thread copies the log into the database.

By default SQLite checkpoints inside whichever commit pushes the write-ahead log past 1000 pages, so every
thirtieth dispense or so pays for copying pages and syncing the database file. While a `WalCheckpointer`
runs, connections of its engine stop checkpointing on commit (`wal_autocheckpoint=0`, applied when a
connection is checked out) and the thread runs a PASSIVE checkpoint every `interval` seconds instead:
PASSIVE never waits for readers or writers, so it cannot stall a dispense. When it stops, connections go
back to automatic checkpoints, so a process without the thread never grows the log without bound.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from weakref import WeakSet

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

SQLITE_DEFAULT_AUTOCHECKPOINT = 1000  # pages; SQLite's own default
_BACKGROUND: WeakSet[Engine] = WeakSet()  # engines whose log a checkpointer thread looks after
_WATCHED: WeakSet[Engine] = WeakSet()


def is_file_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


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
    """A daemon thread that checkpoints one SQLite engine's write-ahead log every `interval` seconds."""

    def __init__(self, engine: Engine, interval: float = 1.0, name: str = "sqlite-wal-checkpointer") -> None:
        if not is_file_sqlite(engine):
            raise ValueError("WAL checkpoints apply to a SQLite database file, not to this database")
        self.engine, self.interval, self.name = engine, interval, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_result: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed frames)
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
        return self.last_result

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed; the next one retries")
