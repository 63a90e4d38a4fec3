"""`FastWork.send` and PostgreSQL's pipeline mode: statements sent together cost one round trip, a result stays
readable after the unit commits, and an error in a statement nobody read still rolls the whole unit back."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.outbox import OutboxEvent
from core.prepared import Prepared, fast_unit_of_work

_O = OutboxEvent.__table__.c
_ADD = Prepared(
    insert(OutboxEvent)
    .values(
        event_key=bindparam("p_key"), event_type="test.pipeline", version=1, payload="{}", created_at=bindparam("p_at")
    )
    .returning(_O.id)
)
_COUNT = Prepared(select(_O.event_key).where(_O.event_type == "test.pipeline").order_by(_O.event_key))
AT = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _round_trips(trace: str) -> int:
    """Runs of client messages answered by the server, in a libpq trace."""
    trips, last = 0, ""
    for line in trace.splitlines():
        parts = line.split("\t")  # [timestamp,] direction, length, message, ...
        direction = parts[0] if parts[0] in ("F", "B") else parts[1] if len(parts) > 1 else ""
        if direction == "B" and last == "F":
            trips += 1
        if direction in ("F", "B"):
            last = direction
    return trips


def test_a_result_is_readable_after_the_unit_commits(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    with fast_unit_of_work(engine) as work:
        first = work.send(_ADD, {"p_key": "a", "p_at": AT})
        work.execute(_ADD, {"p_key": "b", "p_at": AT}).close()
        second = work.send(_ADD, {"p_key": "c", "p_at": AT})
    ids = (first.first(), second.first())
    assert all(row is not None for row in ids)
    with session_factory() as s:
        found = dict(s.execute(select(OutboxEvent.event_key, OutboxEvent.id)).all())
    assert sorted(found) == ["a", "b", "c"]
    assert (found["a"], found["c"]) == tuple(row[0] for row in ids if row is not None)


def test_an_error_in_an_unread_statement_rolls_the_unit_back(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as s:
        s.add(OutboxEvent(event_key="taken", event_type="test.pipeline", version=1, payload="{}", created_at=AT))
    with pytest.raises(engine.dialect.loaded_dbapi.IntegrityError), fast_unit_of_work(engine) as work:
        work.execute(_ADD, {"p_key": "new", "p_at": AT}).close()
        work.execute(_ADD, {"p_key": "taken", "p_at": AT}).close()  # nobody reads it: the COMMIT meets its error
    with fast_unit_of_work(engine) as work:
        assert [row[0] for row in work.all(_COUNT)] == ["taken"]  # "new" went with the failed unit


def test_sent_statements_share_one_round_trip_on_postgresql(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's: SQLite runs in the process")
    trace_path = tmp_path / "libpq.trace"
    traced: list[Any] = []

    def trace(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.pgconn.trace(os.open(trace_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
        traced.append(dbapi_connection)

    event.listen(engine, "checkout", trace)
    with fast_unit_of_work(engine) as work:
        sent = [work.send(_ADD, {"p_key": f"k{n}", "p_at": AT}) for n in range(3)]
        assert len({row[0] for row in (p.first() for p in sent) if row is not None}) == 3  # BEGIN + 3 INSERTs: one
        work.execute(_ADD, {"p_key": "k3", "p_at": AT}).close()  # goes with the COMMIT: the second
    event.remove(engine, "checkout", trace)
    for connection in traced:
        connection.pgconn.untrace()  # flushes the trace stream
    assert _round_trips(trace_path.read_text()) == 2
