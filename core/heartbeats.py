"""Worker and ingester heartbeats in the database, so every process's /healthz sees every process's workers.

Each process runs one `HeartbeatWriter`: every `interval` seconds it asks its workers for a `Beat` (the
time the worker last proved progress, its state, counters) and upserts them all in one transaction, so
a busy ingester costs one row write per interval, never one per message.

Reading (`assess`) decides per row: alive (beat within 3 intervals), dead, replaced (a live row of the
same role exists: the process was restarted), or expired (no beat for `expire_intervals` intervals: a
process that is gone no longer degrades health). Rows older than a day are deleted by the writers.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Float, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from core.clock import Clock, SystemClock, utc
from core.db import Base, UTCDateTime, unit_of_work
from core.settings import ALIVE_INTERVALS
from core.states import State, StateMachine

log = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=1)


class WorkerKind(StrEnum):
    WORKER = "worker"
    INGESTER = "ingester"  # a source of observations: also judged on silence and counted per rejection reason


class WorkerState(State):
    STARTING = "starting"
    RUNNING = "running"
    DOWN = "down"  # running, but its peer (broker, adapter) cannot be reached; retrying with backoff
    BACKOFF = "backoff"  # its loop died on an unexpected error; the supervisor restarts it after a pause
    STOPPED = "stopped"  # stopped on purpose


_BUSY = (WorkerState.RUNNING, WorkerState.DOWN, WorkerState.BACKOFF, WorkerState.STOPPED)
# from-state → {to-state: what moves it}; core.supervisor drives it, the heartbeat row reports it
WORKER: StateMachine[WorkerState] = StateMachine(
    "worker",
    WorkerState,
    {
        WorkerState.STARTING: {s: "run" for s in _BUSY},
        WorkerState.RUNNING: {s: "run" for s in _BUSY},
        WorkerState.DOWN: {s: "run" for s in _BUSY},
        WorkerState.BACKOFF: {s: "run" for s in _BUSY},
        WorkerState.STOPPED: {WorkerState.STARTING: "start"},
    },
    labels={WorkerState.DOWN: "Peer unreachable", WorkerState.BACKOFF: "Restarting after an error"},
    tones={WorkerState.RUNNING: "good", WorkerState.DOWN: "warn", WorkerState.BACKOFF: "bad"},
)


class Verdict(StrEnum):
    OK = "ok"
    SILENT = "silent"  # an ingester that is alive but has heard nothing for longer than its limit
    DOWN = "down"
    BACKOFF = "backoff"
    DEAD = "dead"  # no beat for 3 intervals: the thread or the process is gone
    REPLACED = "replaced"  # dead, but a live row of the same role exists (the process was restarted)
    EXPIRED = "expired"  # no beat for `expire_intervals`: ignored
    STOPPED = "stopped"


DEGRADING = frozenset({Verdict.SILENT, Verdict.DOWN, Verdict.BACKOFF, Verdict.DEAD})


class WorkerHeartbeat(Base):
    """One row per worker per process; written by that process's HeartbeatWriter."""

    __tablename__ = "worker_heartbeat"
    __table_args__ = (WORKER.check_constraint("state", "worker_state_valid"),)

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # role@host:pid
    role: Mapped[str] = mapped_column(String(100), index=True)  # the job, whichever process does it
    kind: Mapped[str] = mapped_column(String(16), default=WorkerKind.WORKER.value)
    process: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(16), default=WorkerState.RUNNING.value)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_seconds: Mapped[int] = mapped_column(Integer, default=5)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    silent_after_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    counters: Mapped[str] = mapped_column(Text, default="{}")  # JSON {name: count}
    last_error: Mapped[str] = mapped_column(Text, default="")
    info: Mapped[str] = mapped_column(Text, default="")


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Beat:
    """What a worker reports about itself at one moment."""

    role: str
    alive_at: datetime  # when its loop last proved progress (not when the writer asked)
    started_at: datetime
    state: WorkerState = WorkerState.RUNNING
    kind: WorkerKind = WorkerKind.WORKER
    last_activity_at: datetime | None = None
    silent_after_s: float | None = None
    counters: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    info: str = ""


@runtime_checkable
class Reporter(Protocol):
    """A worker that can say how it is; the HeartbeatWriter writes what it says."""

    def heartbeat(self) -> Beat: ...


def write_beats(session: Session, beats: Iterable[Beat], interval_s: float, process: str | None = None) -> None:
    process = process or process_id()
    for item in beats:
        name = f"{item.role}@{process}"[:200]
        row = session.get(WorkerHeartbeat, name)
        if row is None:
            row = WorkerHeartbeat(name=name, role=item.role[:100], process=process[:100])
            session.add(row)
        row.kind, row.state = item.kind.value, item.state.value
        row.beat_at, row.started_at = item.alive_at, item.started_at
        row.interval_seconds = max(1, round(interval_s))
        row.last_activity_at, row.silent_after_seconds = item.last_activity_at, item.silent_after_s
        row.counters = json.dumps(item.counters, sort_keys=True)
        row.last_error, row.info = item.last_error[:2000], item.info[:500]


def beat(session: Session, name: str, now: datetime, interval_seconds: int = 5, info: str = "") -> None:
    """Record a plain worker beat under `name` (role = name), e.g. from a one-off command."""
    write_beats(session, [Beat(name, now, now, info=info)], interval_seconds, process="")


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    role: str
    kind: WorkerKind
    process: str
    state: str
    verdict: Verdict
    seconds_since_beat: float
    last_activity_ago_s: float | None
    counters: dict[str, int]
    last_error: str
    info: str

    @property
    def alive(self) -> bool:
        return self.verdict in (Verdict.OK, Verdict.SILENT, Verdict.DOWN, Verdict.BACKOFF)

    @property
    def degrading(self) -> bool:
        return self.verdict in DEGRADING


def _verdict(row: WorkerHeartbeat, age: float, now: datetime, expire_intervals: int) -> Verdict:
    interval = max(row.interval_seconds, 1)
    if row.state == WorkerState.STOPPED:
        return Verdict.STOPPED
    if age > expire_intervals * interval:
        return Verdict.EXPIRED
    if age > ALIVE_INTERVALS * interval:
        return Verdict.DEAD
    if row.state == WorkerState.DOWN:
        return Verdict.DOWN
    if row.state == WorkerState.BACKOFF:
        return Verdict.BACKOFF
    if row.kind == WorkerKind.INGESTER and row.silent_after_seconds:
        heard = utc(row.last_activity_at or row.started_at)
        if (now - heard).total_seconds() > row.silent_after_seconds:
            return Verdict.SILENT
    return Verdict.OK


def assess(session: Session, now: datetime, expire_intervals: int = 24) -> list[WorkerHealth]:
    """Every heartbeat row with its verdict; dead rows of a role that has a live row read `replaced`."""
    rows = list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.kind, WorkerHeartbeat.name)))
    ages = {row.name: (now - utc(row.beat_at)).total_seconds() for row in rows}
    verdicts = {row.name: _verdict(row, ages[row.name], now, expire_intervals) for row in rows}
    gone = (Verdict.DEAD, Verdict.EXPIRED, Verdict.STOPPED)
    live_roles = {row.role for row in rows if verdicts[row.name] not in gone}
    found = []
    for row in rows:
        verdict = verdicts[row.name]
        if verdict == Verdict.DEAD and row.role in live_roles:
            verdict = Verdict.REPLACED
        activity = utc(row.last_activity_at) if row.last_activity_at else None
        found.append(
            WorkerHealth(
                row.name, row.role, WorkerKind(row.kind), row.process, row.state, verdict, round(ages[row.name], 1),
                round((now - activity).total_seconds(), 1) if activity else None,
                _counters(row.counters), row.last_error, row.info,
            )
        )  # fmt: skip
    return found


def _counters(text: str) -> dict[str, int]:
    try:
        loaded = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def prune(session: Session, now: datetime) -> int:
    result = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - PRUNE_AFTER))
    return int(getattr(result, "rowcount", 0) or 0)


class HeartbeatWriter:
    """A thread writing every reporter's beat each `interval` seconds, and a last `stopped` beat at stop."""

    name = "heartbeat-writer"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        reporters: Callable[[], Iterable[Any]],
        interval: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.session_factory, self.reporters, self.interval = session_factory, reporters, interval
        self.clock = clock or SystemClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def collect(self) -> list[Beat]:
        beats = []
        for worker in self.reporters():
            if isinstance(worker, Reporter):
                try:
                    beats.append(worker.heartbeat())
                except Exception:
                    log.exception("worker %s could not report its heartbeat", getattr(worker, "name", worker))
        return beats

    def flush(self) -> None:
        """Write one round now (the thread calls this; tests and commands may too)."""
        beats = self.collect()
        with unit_of_work(self.session_factory) as session:
            write_beats(session, beats, self.interval)
            prune(session, self.clock.now())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):  # the first round after one interval: workers are up by then
            try:
                self.flush()
            except Exception:  # a database outage must not end the heartbeats for good
                self.failures += 1
                log.exception("writing heartbeats failed; retrying in %.0f s", self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:  # the workers are stopped by now: their last beat says so, and health stops counting them
            now = self.clock.now()
            beats = [_stopped(b, now) for b in self.collect()]
            with unit_of_work(self.session_factory) as session:
                write_beats(session, beats, self.interval)
        except Exception:
            log.exception("writing the final heartbeats failed")


def _stopped(item: Beat, now: datetime) -> Beat:
    return Beat(
        item.role, now, item.started_at, WorkerState.STOPPED, item.kind, item.last_activity_at, item.silent_after_s,
        item.counters, item.last_error, item.info,
    )  # fmt: skip
