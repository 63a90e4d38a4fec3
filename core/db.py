"""SQLAlchemy base with a constraint naming convention, column types, and engine/session factories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from time import monotonic
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Numeric, create_engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.types import TypeDecorator

from core import column_guard, write_gate

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every vendtrack table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as UTC-aware, also on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column: pass a timezone-aware time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def Money() -> Numeric[Decimal]:
    """A money column: exact decimal with four places, returned as Decimal."""
    return Numeric(14, 4, asdecimal=True)


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out (see _ping_when_idle).
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine: SQLite gets WAL, foreign keys, a busy timeout and, for a file, the write gate
    (core.write_gate: writers of every process queue for the write lock); PostgreSQL a ping of idle connections.

    `read_only` (SQLite files only): transactions begin DEFERRED, so readers never queue for the write lock (in
    WAL mode a reader sees the last commit and blocks nobody), and `query_only` makes any write on it fail at
    once instead of upgrading a read to a write (the deadlock BEGIN IMMEDIATE exists to avoid)."""
    if url.startswith("sqlite"):
        options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in {"sqlite://", "sqlite:///:memory:"}:
            options["poolclass"] = StaticPool
        else:
            options["poolclass"] = NullPool if kwargs.pop("null_pool", False) else None
            if options["poolclass"] is None:
                del options["poolclass"]
        gated = bool(kwargs.pop("write_gate", True))  # False: writers wait in SQLite's busy handler only
        options.update(kwargs)
        engine = create_engine(url, **options)
        database = engine.url.database
        file_backed = database not in (None, "", ":memory:")
        gate = write_gate.path_for(str(database)) if gated and file_backed and not read_only else None
        _configure_sqlite(engine, read_only, gate)
        return engine
    kwargs.pop("null_pool", None)
    kwargs.pop("write_gate", None)
    ping_after = float(kwargs.pop("ping_after_idle_s", PING_AFTER_IDLE_S))
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_after)
    return engine


def _ping_when_idle(engine: Engine, ping_after: float) -> None:
    """SQLAlchemy's pool_pre_ping, but only for a connection that sat in the pool `ping_after` seconds or more.

    pool_pre_ping costs one round trip on every checkout: three per dispense (a quarter of its round trips,
    measured with libpq's trace; docs/postgresql.md). What it guards against, a connection dropped by a server
    restart or a firewall's idle timeout, only happens to a connection that has been idle for longer than a
    second: a restart takes longer than that, and idle timeouts are minutes. A connection back in the pool
    within the second is handed out as it is; a failed ping makes the pool open a fresh one (it retries a
    checkout that raises DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or monotonic() - returned < ping_after:
            return  # new (just connected) or used within the second
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as failed:
            raise exc.DisconnectionError(f"pooled connection failed its ping after idling: {failed}") from failed


def _configure_sqlite(engine: Engine, read_only: bool = False, gate: str | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions so BEGIN IMMEDIATE can be issued for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The default 2 MB page cache thrashes on a ledger of a million rows; 64 MB plus memory-mapped reads
        # keep the hot indexes in memory on the one machine the embedded database lives on.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    if gate is not None:
        write_gate.install(engine, gate)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: no deadlocking read-then-write upgrades between threads. A
        # read-only engine cannot write (query_only), so its snapshot transaction waits for nobody. Writers of
        # every process queue on the write gate first (core.write_gate) instead of SQLite's busy backoff.
        if gate is None:
            connection.exec_driver_sql(begin)
            return
        write_gate.enter(connection.connection, gate)
        try:
            connection.exec_driver_sql(begin)
        except BaseException:
            write_gate.leave(connection.connection)
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    column_guard.install()  # a flush the database would refuse raises a field-named error instead
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A worker job's unit of work: commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
