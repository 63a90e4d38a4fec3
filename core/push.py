"""Push notices between processes: published inside the writer's transaction, delivered to waiters in every process.

A notice is a channel name (`kiosk:L1`, `tracking:assets`, `vending:dispense`) and a small JSON object. It is a
wake-up, not a record: the state it announces lives in its own table, and a waiter that missed a notice reads
that state again on (re)connect. Delivery follows the database, so every serving process sees the same notices
and none keeps state another needs:

- PostgreSQL: `publish` runs `pg_notify('vendtrack_push', ...)`; PostgreSQL sends it at COMMIT (never for a
  rolled-back transaction). Each process has one `Hub` thread holding one LISTEN connection.
- SQLite: `publish` inserts a `push_notice` row; each process's `Hub` thread reads rows newer than the last it
  saw every `poll_s` (one indexed query; SQLite commits in id order, so none is skipped). Rows older than
  `KEEP_FOR` are pruned by `prune` (the workers process runs it).

Waiting: `hub_for(services).subscribe({"kiosk:L1"})` returns a `Subscription` whose `get(timeout)` blocks
without using the CPU until a notice on one of its channels arrives.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, delete, insert, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

log = logging.getLogger(__name__)

PG_CHANNEL = "vendtrack_push"
REVOKED = "auth:revoked"  # {"token": id}: a bearer/device token was revoked (event streams held with it end)
MAX_PAYLOAD = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
KEEP_FOR = timedelta(minutes=10)
EXTRAS_KEY = "core.push.hub"
NEWER = "SELECT id, payload FROM push_notice WHERE id > ? ORDER BY id"
_hub_lock = threading.Lock()


class PushNotice(Base):
    """SQLite's notice log (PostgreSQL uses NOTIFY and leaves this table empty)."""

    __tablename__ = "push_notice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True, slots=True)
class Notice:
    channel: str
    data: dict[str, Any]


def publish(session: Any, channel: str, data: dict[str, Any], now: datetime) -> None:
    """Announce `data` on `channel` when the caller's transaction commits (a Session or a Connection)."""
    body = json.dumps({"c": channel, "d": data}, separators=(",", ":"), default=str)
    if len(body) > MAX_PAYLOAD:
        raise ValueError(f"push notice on {channel!r} is {len(body)} bytes: keep it under {MAX_PAYLOAD}")
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": PG_CHANNEL, "body": body})
    else:
        session.execute(insert(PushNotice).values(channel=channel, payload=body, created_at=now))


def prune(session: Session, now: datetime) -> int:
    """Delete SQLite notices older than KEEP_FOR (every waiter has long read them); the caller commits."""
    result: Any = session.execute(delete(PushNotice).where(PushNotice.created_at < now - KEEP_FOR))
    return int(result.rowcount or 0)


class Subscription:
    """Notices on some channels, queued for one waiter (a kiosk's event stream, a locate page's stream)."""

    def __init__(self, hub: Hub, channels: frozenset[str]) -> None:
        self.hub, self.channels = hub, channels
        self._queue: queue.SimpleQueue[Notice] = queue.SimpleQueue()

    def deliver(self, notice: Notice) -> None:
        self._queue.put(notice)

    def get(self, timeout: float) -> Notice | None:
        """The next notice, or None after `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Hub:
    """One per process: a thread receives every notice from the database and hands it to that channel's waiters."""

    def __init__(self, engine: Engine, poll_s: float = 0.05) -> None:
        self.engine, self.poll_s = engine, poll_s
        self._subs: dict[str, set[Subscription]] = {}
        self._callbacks: dict[str, list[Callable[[Notice], None]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def start(self) -> None:
        loop = self._listen_pg if self.engine.dialect.name == "postgresql" else self._poll_sqlite
        self._thread = threading.Thread(target=self._supervise, args=(loop,), name="push-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        sub = Subscription(self, frozenset(channels))
        with self._lock:
            for channel in sub.channels:
                self._subs.setdefault(channel, set()).add(sub)
        return sub

    def on(self, channel: str, callback: Callable[[Notice], None]) -> None:
        """Call `callback` in the hub's thread with each notice on `channel`, for the life of the process (a cache
        that drops an entry another process changed). It must be quick; what it raises is logged, not spread."""
        with self._lock:
            self._callbacks.setdefault(channel, []).append(callback)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for channel in sub.channels:
                waiting = self._subs.get(channel)
                if waiting is not None:
                    waiting.discard(sub)
                    if not waiting:
                        del self._subs[channel]

    def waiting(self) -> int:
        with self._lock:
            return len({s for subs in self._subs.values() for s in subs})

    def dispatch(self, body: str) -> None:
        try:
            parsed = json.loads(body)
            notice = Notice(str(parsed["c"]), dict(parsed.get("d") or {}))
        except (ValueError, KeyError, TypeError):
            log.warning("push notice ignored: not {c, d} JSON: %.80r", body)
            return
        with self._lock:
            targets = list(self._subs.get(notice.channel, ()))
            callbacks = list(self._callbacks.get(notice.channel, ()))
        for callback in callbacks:
            try:
                callback(notice)
            except Exception:
                log.exception("push callback on %s failed for %.80r", notice.channel, notice.data)
        for sub in targets:
            sub.deliver(notice)
        self.delivered += len(targets)

    def _supervise(self, loop: Any) -> None:
        """Run the receiving loop; if the database goes away, log, wait and reconnect (a waiter meanwhile times
        out and reads the state again)."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                loop()
                return
            except Exception:
                log.exception("push hub lost the database; reconnecting in %.1f s", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _poll_sqlite(self) -> None:
        # a DBAPI connection in autocommit: plain SELECTs, never the BEGIN IMMEDIATE (write lock) of our sessions
        raw: Any = self.engine.raw_connection()
        raw.detach()
        try:
            cursor = raw.cursor()
            last = cursor.execute("SELECT coalesce(max(id), 0) FROM push_notice").fetchone()[0]
            while not self._stop.wait(self.poll_s):
                rows = cursor.execute(NEWER, (last,)).fetchall()
                for row_id, payload in rows:
                    last = row_id
                    self.dispatch(payload)
        finally:
            raw.close()

    def _listen_pg(self) -> None:
        raw: Any = self.engine.raw_connection()
        conn = raw.driver_connection  # psycopg 3
        raw.detach()  # ours alone: autocommit and LISTEN never go back to the pool
        try:
            conn.rollback()
            conn.autocommit = True
            conn.execute(f"LISTEN {PG_CHANNEL}")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self.dispatch(note.payload)
        finally:
            raw.close()


def hub_for(services: Any) -> Hub:
    """This process's hub, started on first use (after a server has forked its workers)."""
    with _hub_lock:
        hub: Hub | None = services.extras.get(EXTRAS_KEY)
        if hub is None:
            hub = Hub(services.session_factory.kw["bind"])
            hub.start()
            services.extras[EXTRAS_KEY] = hub
        return hub


def wait_for(sub: Subscription, predicate: Any, timeout: float) -> Notice | None:
    """The first notice for which predicate(notice) holds, within timeout seconds (tests and helpers)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        notice = sub.get(left)
        if notice is not None and predicate(notice):
            return notice
    return None
