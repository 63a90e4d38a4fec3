"""Core statements compiled once per dialect and run straight on a DBAPI connection, for the few hot paths.

A dispense spends most of its software time in SQLAlchemy's per-execution machinery (and, with the CPU's
caches cold after the door wait, in the Session's), not in the database. `Prepared` keeps the statement
written in SQLAlchemy Core, so the SQL stays portable and typed, but compiles it once per dialect and
keeps what an execution needs: the SQL text, the order of parameters, the literal values and each
column type's bind and result processors. Rows come back as tuples that also map column names to values
(`row._mapping["on_hand"]`, as SQLAlchemy's rows do). `FastWork` is the one handle the hot services take:
`FastWork.of(x)` accepts a Session (the statements join its transaction) or a `fast_unit_of_work`, a
transaction on a pooled DBAPI connection with SQLite's BEGIN IMMEDIATE. On PostgreSQL a fast unit of work runs
in psycopg's pipeline mode: a statement whose result nobody reads yet (`FastWork.send`, or an `execute` closed
at once) travels with the next one that is read, and with the COMMIT; on SQLite the same calls run in order.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable

from core import write_gate

Processor = Callable[[Any], Any] | None


class Row(tuple[Any, ...]):
    """A result row: a tuple whose `_mapping` maps each column's name (its label) to its value."""

    __slots__ = ()
    keys: tuple[str, ...] = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self.keys, self, strict=True))


def _row_type(columns: Sequence[Any]) -> type[Row]:
    keys = tuple(str(getattr(column, "key", None) or getattr(column, "name", "")) for column in columns)
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:  # a name that maps to two columns would silently give one of them: label them
        return type("Row", (Row,), {"__slots__": (), "keys": ()})
    return type("Row", (Row,), {"__slots__": (), "keys": keys})


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order for positional paramstyles (SQLite), else None
    fixed: dict[str, Any]  # literal values written into the statement, already processed
    wanted: dict[str, tuple[str, Processor]]  # rendered name -> (the caller's key, bind processor)
    columns: tuple[Any, ...]  # the statement's result columns, for their result processors
    row_type: type[Row]  # rows of this statement: tuples with `_mapping` by column name
    results: list[tuple[Processor, ...]] = field(default_factory=list)  # set on first rows (needs the type codes)
    # positional paramstyles: per position, (the caller's key or None for a literal, the literal, bind processor)
    order: tuple[tuple[str | None, Any, Processor], ...] = ()

    def processors(self, dialect: Dialect, description: Sequence[Sequence[Any]]) -> tuple[Processor, ...]:
        """Each column type's result processor; some (PostgreSQL numerics) need the driver's type code."""
        if not self.results:
            self.results.append(
                tuple(
                    column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                    for column, described in zip(self.columns, description, strict=False)
                )
            )
        return self.results[0]


class Prepared:
    """One Core statement, compiled on first use for each dialect it meets."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._last: tuple[Dialect, _Plan] | None = None  # most calls meet the same dialect object

    def plan(self, dialect: Dialect) -> _Plan:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        key = f"{dialect.name}+{dialect.driver}"
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = _compile(self.statement, dialect)
        self._last = (dialect, found)
        return found

    def parameters(self, plan: _Plan, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if plan.order:
            try:
                return tuple(
                    [
                        value if key is None else (given[key] if processor is None else processor(given[key]))
                        for key, value, processor in plan.order
                    ]
                )
            except KeyError as missing:
                raise KeyError(f"parameter {missing.args[0]!r} is missing for: {plan.sql}") from None
        values = dict(plan.fixed)
        for name, (key, processor) in plan.wanted.items():
            try:
                value = given[key]
            except KeyError:
                raise KeyError(f"parameter {key!r} is missing for: {plan.sql}") from None
            values[name] = processor(value) if processor is not None else value
        if plan.positions is None:
            return values
        return tuple(values[name] for name in plan.positions)

    def parameters_many(self, plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """`parameters` of each row of an executemany; positional values are picked by one C call a row."""
        keys = [key for key, _value, _processor in plan.order]
        if len(keys) < 2 or None in keys:  # named parameters, a literal in the statement, or a single value
            return [self.parameters(plan, row) for row in rows]
        picked: list[Any] = list(map(operator.itemgetter(*keys), rows))  # a missing one: KeyError naming it
        for n, p in [(n, p) for n, (_key, _value, p) in enumerate(plan.order) if p is not None]:
            picked = [(*values[:n], p(values[n]), *values[n + 1 :]) for values in picked]
        return picked


def _compile(statement: Executable, dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    fixed: dict[str, Any] = {}
    wanted: dict[str, tuple[str, Processor]] = {}
    for bind, name in compiled.bind_names.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            wanted[name] = (bind.key, processor)
        else:
            value = bind.effective_value
            fixed[name] = processor(value) if processor is not None else value
    if getattr(compiled, "literal_execute_params", None) or getattr(compiled, "post_compile_params", None):
        raise ValueError("prepared statements cannot hold expanding IN lists: use OR of equalities instead")
    columns = tuple(getattr(statement, "exported_columns", ()))
    positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    order: tuple[tuple[str | None, Any, Processor], ...] = ()
    if positions:
        order = tuple(
            (wanted[name][0], None, wanted[name][1]) if name in wanted else (None, fixed[name], None)
            for name in positions
        )
    return _Plan(compiled.string, positions, fixed, wanted, columns, _row_type(columns), order=order)


@dataclass(slots=True)
class FastWork:
    """A transaction on a DBAPI connection that runs prepared statements: its own (`fast_unit_of_work`) or a
    Session's (`of_session`: the statements join the Session's transaction, which commits them)."""

    connection: Any  # the pool's proxy of the DBAPI connection
    engine: Engine
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    session: Session | None = None
    one_statement: bool = False  # a `fast_unit_of_work(one_statement=True)`: one write, no transaction around it
    wrote: bool = False
    pipeline: Any = None  # psycopg's Pipeline while a PostgreSQL fast unit of work runs in pipeline mode
    pipeline_done: bool = False  # its closing sync has run: every result sent in it is in

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @classmethod
    def of_session(cls, session: Session) -> FastWork:
        if session.new or session.dirty or session.deleted:
            session.flush()  # ORM rows the caller added must be visible to the statements
        connection = session.connection()
        return cls(connection.connection, connection.engine, session=session)

    @classmethod
    def of(cls, session: Session | FastWork) -> FastWork:
        """`session` itself when it is already a FastWork, else one joined to the Session's transaction."""
        return session if isinstance(session, FastWork) else cls.of_session(session)

    def on_commit(self, hook: Callable[[], None], session_flag: str) -> None:
        """Run `hook` once this work's transaction commits: for a Session's, `session_flag` is set in its info
        for the caller's own after-commit listener; for a fast unit of work, the hook is queued."""
        if self.session is not None:
            self.session.info[session_flag] = True
        elif hook not in self.after_commit:
            self.after_commit.append(hook)

    def all(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row, each column through its result processor."""
        return self.send(prepared, params).all()

    def execute(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Any:
        """Run one statement; returns the DBAPI cursor (rowcount, fetchone; rows are not processed)."""
        plan = prepared.plan(self.dialect)
        if self.one_statement:
            self._check_one_write(prepared)
        cursor = self.connection.cursor()
        cursor.execute(plan.sql, prepared.parameters(plan, params or {}))
        return cursor

    def _check_one_write(self, prepared: Prepared) -> None:
        if getattr(prepared.statement, "is_select", False):
            return
        if self.wrote:  # on PostgreSQL it would commit on its own: the two writes would not be atomic
            raise RuntimeError(
                f"a one-statement unit of work ran a second write ({prepared.statement}): drop "
                "one_statement=True from its fast_unit_of_work"
            )
        self.wrote = True

    def execute_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        plan = prepared.plan(self.dialect)
        if self.one_statement:
            self._check_one_write(prepared)
        cursor = self.connection.cursor()
        cursor.executemany(plan.sql, prepared.parameters_many(plan, rows))
        cursor.close()

    def first(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Row | None:
        """The first row with each column's result processor applied (timestamps parsed, and so on)."""
        return self.send(prepared, params).first()

    def mapping(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row as {column name: value}, or None."""
        row = self.first(prepared, params)
        return None if row is None else row._mapping

    def rowcount(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> int:
        return self.send(prepared, params).rowcount()

    def send(self, prepared: Prepared, params: Mapping[str, Any] | None = None) -> Pending:
        """Run one statement and read its result later: in pipeline mode it is sent with whatever is read next,
        so statements that do not depend on each other's results cost one round trip together."""
        return Pending(self, prepared, self.execute(prepared, params))


class Pending:
    """A statement sent by `FastWork.send` whose result is read when asked for (one round trip at most).

    Outside pipeline mode (SQLite, a Session's connection) the result is fetched at once, so it stays readable
    after the unit of work ends; in pipeline mode the pipeline's closing sync fetches it, COMMIT included."""

    __slots__ = ("count", "cursor", "description", "prepared", "rows", "work")

    def __init__(self, work: FastWork, prepared: Prepared, cursor: Any) -> None:
        self.work, self.prepared, self.cursor = work, prepared, cursor
        self.rows: list[Any] | None = None
        self.description: Any = None
        self.count = -1
        if work.pipeline is None:
            self._fetch()

    def _fetch(self) -> None:
        cursor = self.cursor
        if self.work.pipeline is not None and cursor.pgresult is None and not self.work.pipeline_done:
            self.work.pipeline.sync()  # an UPDATE without RETURNING: its row count comes back with the sync
        plan = self.prepared.plan(self.work.dialect)
        if plan.columns or cursor.description is not None:  # psycopg builds `description` anew on each call
            self.rows = cursor.fetchall()
            if not plan.results:  # only the first rows of a statement need it (their type codes)
                self.description = cursor.description
        else:
            self.rows = []
        self.count = int(cursor.rowcount)
        cursor.close()

    def _read(self) -> list[Any]:
        if self.rows is None:
            self._fetch()
        assert self.rows is not None
        return self.rows

    def discard(self) -> None:
        """The result is not wanted after all."""
        if self.rows is None:
            self.cursor.close()
            self.rows = []

    def rowcount(self) -> int:
        self._read()
        return self.count

    def raw(self) -> list[Any]:
        """The rows as the driver gave them, before any result processor (to compare with rows read before)."""
        return self._read()

    def first(self) -> Row | None:
        """As `FastWork.first`."""
        rows = self._read()
        if not rows:
            return None
        plan = self.prepared.plan(self.work.dialect)
        processors = plan.processors(self.work.dialect, self.description)
        return plan.row_type(p(v) if p is not None else v for p, v in zip(processors, rows[0], strict=False))

    def mapping(self) -> dict[str, Any] | None:
        row = self.first()
        return None if row is None else row._mapping

    def all(self) -> list[Row]:
        """As `FastWork.all`."""
        rows = self._read()
        plan = self.prepared.plan(self.work.dialect)
        processors = plan.processors(self.work.dialect, self.description)
        make = plan.row_type
        converted = [(n, p) for n, p in enumerate(processors) if p is not None]
        if not converted:
            return [make(row) for row in rows]
        out = []
        for row in rows:  # only the columns that have a processor go through it
            values = list(row)
            for n, p in converted:
                values[n] = p(values[n])
            out.append(make(values))
        return out


@contextmanager
def fast_unit_of_work(engine: Engine, durable: bool = True, one_statement: bool = False) -> Iterator[FastWork]:
    """Commit on success, roll back on error, return the connection to the pool; SQLite takes its write lock
    at BEGIN (IMMEDIATE) as `core.db` does for every transaction. Hooks in `after_commit` run after the commit.

    `durable=False`: on PostgreSQL the commit does not wait for its WAL flush (synchronous_commit off for this
    transaction only). Use it only where the next durable commit of the same flow flushes it anyway and losing
    it in a crash loses nothing real (the kiosk's request: no hardware moves before `commanded` commits). SQLite
    in WAL mode with synchronous=NORMAL already commits every transaction that way.

    `one_statement=True`: the work writes with one statement (reads may follow, e.g. to explain a refused
    compare-and-set); on PostgreSQL that statement is its own transaction, with no BEGIN and COMMIT round trips.

    On PostgreSQL the connection runs in autocommit mode while we own it and we send BEGIN and COMMIT ourselves,
    in psycopg's pipeline mode: BEGIN travels with the first statement read, COMMIT with the statements nobody
    read (the outbox INSERT), so a transaction costs no round trip of its own (docs/postgresql.md)."""
    connection = engine.raw_connection()
    dialect = engine.dialect.name
    postgres = dialect == "postgresql"
    dbapi_connection: Any = connection.dbapi_connection
    work = FastWork(connection, engine, one_statement=one_statement and durable)
    gate = write_gate.gate_of(engine)  # SQLite file: writers of every process queue here (core.write_gate)
    pipelined = postgres and not work.one_statement and _has_pipeline(dbapi_connection)
    try:
        if postgres:
            dbapi_connection.autocommit = True
        if gate is not None:
            write_gate.enter(connection, gate)
        if pipelined:
            with dbapi_connection.pipeline() as pipeline:
                work.pipeline = pipeline
                for command in ("BEGIN", *(() if durable else ("SET LOCAL synchronous_commit TO OFF",))):
                    connection.cursor().execute(command)
                yield work
                connection.cursor().execute("COMMIT")  # sent with the pipeline's closing sync: no round trip alone
            work.pipeline_done = True
        else:
            begin = _begin_command(dialect, durable, work.one_statement)
            if begin:
                cursor = connection.cursor()
                cursor.execute(begin)
                cursor.close()
            yield work
            connection.commit()
    except BaseException:
        work.pipeline_done = True
        connection.rollback()
        raise
    finally:
        if gate is not None:
            write_gate.leave(connection)
        if postgres:
            try:
                dbapi_connection.autocommit = False  # as the pool hands connections to everyone else
            except Exception:
                connection.invalidate()  # a broken connection: never back to the pool in autocommit mode
        connection.close()
    for hook in work.after_commit:
        hook()


_PIPELINE_SUPPORTED: list[bool] = []  # psycopg's libpq wrapper has pipeline mode (libpq 14 or later): asked once


def _has_pipeline(dbapi_connection: Any) -> bool:
    if not hasattr(dbapi_connection, "pipeline"):
        return False
    if not _PIPELINE_SUPPORTED:
        from psycopg import Pipeline  # deferred: only PostgreSQL connections come here; SQLite runs need no psycopg

        _PIPELINE_SUPPORTED.append(bool(Pipeline.is_supported()))
    return _PIPELINE_SUPPORTED[0]


def _begin_command(dialect: str, durable: bool, one_statement: bool) -> str:
    if dialect == "sqlite":
        return "BEGIN IMMEDIATE"
    if dialect != "postgresql":
        return "" if durable else "SET LOCAL synchronous_commit TO OFF"
    if one_statement:
        return ""
    return "BEGIN" if durable else "BEGIN; SET LOCAL synchronous_commit TO OFF"
