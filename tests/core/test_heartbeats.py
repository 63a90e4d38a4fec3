"""Heartbeat rows: the writer upserts each worker's own beat, a stop leaves `stopped`, old rows are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.heartbeats import Beat, HeartbeatWriter, Verdict, WorkerHeartbeat, WorkerState, assess, write_beats


class Worker:
    def __init__(self, role: str) -> None:
        self.name = role
        self.alive_at = datetime.now(UTC)
        self.started = datetime.now(UTC)

    def heartbeat(self) -> Beat:
        return Beat(self.name, self.alive_at, self.started, counters={"rounds": 3})


class Broken:
    name = "broken"

    def heartbeat(self) -> Beat:
        raise RuntimeError("cannot say")


def test_writer_upserts_one_row_per_worker_and_marks_them_stopped(session_factory: sessionmaker[Session]) -> None:
    stuck = Worker("a")
    workers = [stuck, Worker("b"), Broken(), object()]
    writer = HeartbeatWriter(session_factory, lambda: workers, interval=5)
    writer.flush()
    stuck.alive_at -= timedelta(seconds=60)  # "a" stopped making progress
    writer.flush()
    with session_factory() as session:
        rows = {r.role: r for r in session.scalars(select(WorkerHeartbeat))}
        assert set(rows) == {"a", "b"} and rows["a"].counters == '{"rounds": 3}'
        verdicts = {h.role: h.verdict for h in assess(session, datetime.now(UTC))}
        assert verdicts == {"a": Verdict.DEAD, "b": Verdict.OK}
    writer.stop()
    with session_factory() as session:
        assert {r.state for r in session.scalars(select(WorkerHeartbeat))} == {WorkerState.STOPPED.value}


def test_rows_older_than_a_day_are_pruned(session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with unit_of_work(session_factory) as session:
        write_beats(session, [Beat("old", now - timedelta(days=2), now - timedelta(days=3))], 5, "host:1")
    HeartbeatWriter(session_factory, lambda: [Worker("new")]).flush()
    with session_factory() as session:
        assert [r.role for r in session.scalars(select(WorkerHeartbeat))] == ["new"]
