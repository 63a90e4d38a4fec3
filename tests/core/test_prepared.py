"""Prepared statements: the same rows and types as SQLAlchemy's own execution, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.outbox import OutboxEvent
from core.prepared import Prepared, fast_unit_of_work

_O = OutboxEvent.__table__.c
_ADD = Prepared(
    insert(OutboxEvent).values(
        event_key=bindparam("p_key"),
        event_type="test.prepared",  # a literal: compiled into the plan once
        version=bindparam("p_version"),
        payload=bindparam("p_payload"),
        created_at=bindparam("p_at"),
    )
)
_BUMP = Prepared(  # one parameter used twice, plus literals in SET and WHERE
    update(OutboxEvent)
    .where(_O.event_key == bindparam("p_key"), _O.version + bindparam("p_by") <= 10, _O.event_type == "test.prepared")
    .values(version=_O.version + bindparam("p_by"))
    .returning(_O.version)
)
_READ = Prepared(select(_O.created_at, _O.version, _O.payload).where(_O.event_key == bindparam("p_key")))


def test_rows_and_types_match_sqlalchemy(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    at = datetime(2026, 11, 22, 13, 5, 7, 123456, tzinfo=UTC)
    with fast_unit_of_work(engine) as work:
        work.execute_many(
            _ADD,
            [{"p_key": f"k{n}", "p_version": n, "p_payload": "{}", "p_at": at + timedelta(hours=n)} for n in range(3)],
        )
        cursor = work.execute(_BUMP, {"p_key": "k2", "p_by": 5})
        assert cursor.fetchone()[0] == 7
        cursor.close()
        assert work.rowcount(_BUMP, {"p_key": "k2", "p_by": 5}) == 0  # 12 > 10: the WHERE refuses
        first = work.first(_READ, {"p_key": "k1"})
    assert first == (at + timedelta(hours=1), 1, "{}")  # the timestamp comes back aware, as the ORM gives it
    with session_factory() as s:
        rows = s.execute(select(OutboxEvent.event_key, OutboxEvent.version, OutboxEvent.created_at)).all()
    assert sorted(rows) == [("k0", 0, at), ("k1", 1, at + timedelta(hours=1)), ("k2", 7, at + timedelta(hours=2))]


def test_an_error_rolls_back_everything_and_names_a_missing_parameter(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    at = datetime(2026, 11, 22, tzinfo=UTC)
    with pytest.raises(KeyError, match="p_payload"), fast_unit_of_work(engine) as work:
        work.execute(_ADD, {"p_key": "a", "p_version": 1, "p_payload": "{}", "p_at": at})
        work.execute(_ADD, {"p_key": "b", "p_version": 1, "p_at": at})
    with unit_of_work(session_factory) as s:
        assert s.scalars(select(OutboxEvent.event_key)).all() == []


_ADD_MANY = Prepared(  # every value a parameter: an executemany picks them by one call per row
    insert(OutboxEvent).values(
        event_key=bindparam("p_key"), event_type=bindparam("p_type"), version=bindparam("p_version"),
        payload=bindparam("p_payload"), created_at=bindparam("p_at"),
    )
)  # fmt: skip
_CREATED = Prepared(select(_O.created_at, _O.event_key).where(_O.event_type == "test.many").order_by(_O.event_key))


def test_many_rows_keep_their_types_and_a_missing_value_is_named(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """An executemany of mappings (extra keys ignored) stores what one execute would, types processed as one would."""
    at = datetime(2026, 11, 22, 13, 5, tzinfo=UTC)
    rows = [{"p_key": f"m{n}", "p_type": "test.many", "p_version": n, "p_payload": "{}",
             "p_at": at + timedelta(hours=n % 2), "unused": n} for n in range(4)]  # fmt: skip
    with fast_unit_of_work(engine) as work:
        work.execute_many(_ADD_MANY, rows)
    with fast_unit_of_work(engine) as work:
        found = work.all(_CREATED)
    assert found == [(at + timedelta(hours=n % 2), f"m{n}") for n in range(4)]
    assert all(row[0].tzinfo is UTC for row in found)
    with pytest.raises(KeyError, match="p_payload"), fast_unit_of_work(engine) as work:
        missing = {k: v for k, v in rows[1].items() if k != "p_payload"}
        work.execute_many(_ADD_MANY, [{**rows[0], "p_key": "x"}, missing])
    with unit_of_work(session_factory) as s:
        assert s.scalar(select(OutboxEvent.event_key).where(OutboxEvent.event_key == "x")) is None


def test_refuses_expanding_in_lists(engine: Engine) -> None:
    prepared = Prepared(select(_O.id).where(_O.event_key.in_(bindparam("keys", expanding=True))))
    with pytest.raises(ValueError, match="IN lists"), fast_unit_of_work(engine) as work:
        work.execute(prepared, {"keys": ["a"]})


def test_a_one_statement_unit_commits_its_write_and_refuses_a_second(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    at = datetime(2026, 11, 22, tzinfo=UTC)
    with fast_unit_of_work(engine, one_statement=True) as work:
        work.execute(_ADD, {"p_key": "one", "p_version": 1, "p_payload": "{}", "p_at": at})
        assert work.first(_READ, {"p_key": "one"}) is not None  # reads after the write are fine
    with pytest.raises(RuntimeError, match="second write"), fast_unit_of_work(engine, one_statement=True) as work:
        work.execute(_ADD, {"p_key": "two", "p_version": 1, "p_payload": "{}", "p_at": at})
        work.execute(_ADD, {"p_key": "three", "p_version": 1, "p_payload": "{}", "p_at": at})
    with unit_of_work(session_factory) as s:
        keys = set(s.scalars(select(OutboxEvent.event_key)))
    assert "one" in keys and "three" not in keys


def test_the_pool_gets_its_connections_back_in_transaction_mode(engine: Engine) -> None:
    """On PostgreSQL a fast unit of work runs its connection in autocommit mode and sends BEGIN itself; a Session
    that gets the connection next must find ordinary transactions again, after a commit and after an error."""
    at = datetime(2026, 11, 22, tzinfo=UTC)
    for durable in (True, False):
        with fast_unit_of_work(engine, durable=durable) as work:
            work.execute(_ADD, {"p_key": f"d{durable}", "p_version": 1, "p_payload": "{}", "p_at": at})
    with pytest.raises(KeyError), fast_unit_of_work(engine) as work:
        work.execute(_ADD, {"p_key": "lost", "p_version": 1, "p_at": at})
    with engine.connect() as conn:  # the pool's last connection: one statement, then roll back
        conn.execute(insert(OutboxEvent).values(event_key="rolled", event_type="t", version=1, payload="{}",
                                                created_at=at))  # fmt: skip
        conn.rollback()
        keys = set(conn.execute(select(OutboxEvent.event_key)).scalars())
    assert keys == {"dTrue", "dFalse"}
