"""The configuration change feed: the tables the central server owns, how their changes are captured, served, applied.

Central side: `capture_changes(factory)` notes every ORM insert, update and delete of an owned table in the
session and, just before the commit, writes one `FleetChange` per changed row (the row as it now is, or a
delete) in the same transaction; on PostgreSQL writers of changes take a table lock so versions commit in
order and a reader's cursor never skips a change committed late. `build_feed` serves an edge the changes
of its site after its cursor, or a full snapshot of its site when it has none.
Edge side: `apply_feed` applies one feed document in the caller's transaction with Core statements
(upsert by primary key: the edge's copy keeps the central ids), and `refuse_local_edits(factory, url)`
refuses ORM edits of owned data with a message naming where to edit it.
Domains declare their owned tables with `register(Owned(...))` (vending: vending.config_feed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, DateTime, Numeric, Table, and_, delete, event, func, insert, inspect, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from core.clock import utc
from core.db import Base
from core.errors import Forbidden
from core.fleet_models import FleetChange, FleetState
from core.models import CostCenter, Item, Site
from core.texts import N_, gettext

SiteFilter = Callable[[int], "ColumnElement[bool] | None"]
SiteOf = Callable[[Connection, Any], "int | None"]


@dataclass(frozen=True, slots=True)
class Owned:
    """A table whose rows the central server owns; edges hold a copy of their site's part."""

    table: Table
    where: SiteFilter = lambda _site: None  # the rows an edge of this site receives (None: all)
    site_of: SiteOf = lambda _conn, _row: None  # the site one changed row belongs to (None: every edge)
    local: frozenset[str] = frozenset()  # columns each edge keeps for itself (a lockout, a jam): never sent
    label: str = ""  # "workers"
    edit_at: str = ""  # the central page where they are edited, "/vending/workers"


@dataclass(frozen=True, slots=True)
class Section:
    """Extra data that comes down with the configuration (a worker's usage at other edges), replaced each pull."""

    build: Callable[[Session, int, datetime], list[dict[str, Any]]]
    apply: Callable[[Session, list[dict[str, Any]]], None]
    marker: Callable[[Session, int], int]  # changes when build's answer may have changed (part of the ETag)


OWNED: dict[str, Owned] = {}
SECTIONS: dict[str, Section] = {}
PENDING = "fleet_pending"


def register(owned: Owned) -> None:
    OWNED[owned.table.name] = owned


def ordered() -> list[Owned]:
    """Owned tables parents first (the order inserts must go in)."""
    order = {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}
    return sorted(OWNED.values(), key=lambda o: order.get(o.table.name, 0))


# ---- values to JSON and back ------------------------------------------------------------------


def encode_row(owned: Owned, row: Mapping[str, Any] | Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in owned.table.columns:
        if column.name in owned.local:
            continue
        value = row[column.name]
        if isinstance(value, datetime):
            value = utc(value).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[column.name] = value
    return out


def decode_row(owned: Owned, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in owned.table.columns:
        if column.name in owned.local or column.name not in data:
            continue
        value = data[column.name]
        if value is not None and isinstance(column.type, DateTime):
            value = utc(datetime.fromisoformat(value))
        elif value is not None and isinstance(column.type, Numeric) and column.type.asdecimal:
            value = Decimal(str(value))
        out[column.name] = value
    return out


def _key_of(owned: Owned, row: Mapping[str, Any]) -> dict[str, Any]:
    return {c.name: row[c.name] for c in owned.table.primary_key.columns}


def _pk_clause(owned: Owned, key: Mapping[str, Any]) -> ColumnElement[bool]:
    return and_(*(c == key[c.name] for c in owned.table.primary_key.columns))


# ---- central: capture ---------------------------------------------------------------------------


def capture_changes(factory: sessionmaker[Session]) -> None:
    """Record every committed change of an owned table made through sessions of `factory`."""
    event.listen(factory, "after_flush", _note_flush)
    event.listen(factory, "before_commit", _write_changes)
    event.listen(factory, "after_rollback", lambda session: session.info.pop(PENDING, None))


def _changed_columns(obj: Any, owned: Owned) -> bool:
    state = inspect(obj)
    return any(attr.history.has_changes() for attr in state.attrs if attr.key not in owned.local)


def _note_flush(session: Session, _context: Any) -> None:
    pending: dict[tuple[str, str], bool] = session.info.setdefault(PENDING, {})
    for objects, deleted in ((session.new, False), (session.dirty, False), (session.deleted, True)):
        for obj in objects:
            table = getattr(obj, "__table__", None)
            owned = OWNED.get(table.name) if table is not None else None
            if owned is None:
                continue
            if obj in session.dirty and not _changed_columns(obj, owned):
                continue
            key = inspect(obj).mapper.primary_key_from_instance(obj)
            pending[(owned.table.name, json.dumps(key))] = deleted


def _write_changes(session: Session) -> None:
    session.flush()
    pending: dict[tuple[str, str], bool] = session.info.pop(PENDING, {})
    if not pending:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # versions commit in id order: a cursor never skips a late commit
        conn.execute(text("LOCK TABLE fleet_change IN SHARE ROW EXCLUSIVE MODE"))
    position = {o.table.name: i for i, o in enumerate(ordered())}
    upserts: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for (name, key_json), _deleted in sorted(pending.items(), key=lambda kv: position.get(kv[0][0], 0)):
        owned = OWNED[name]
        values = json.loads(key_json)
        key = {c.name: v for c, v in zip(owned.table.primary_key.columns, values, strict=True)}
        row = conn.execute(select(owned.table).where(_pk_clause(owned, key))).mappings().first()
        if row is None:
            deletes.append({"table_name": name, "row_key": json.dumps(key), "op": "delete", "row": "{}",
                            "site_id": None, "at": now})  # fmt: skip
        else:
            upserts.append({"table_name": name, "row_key": json.dumps(key), "op": "upsert",
                            "row": json.dumps(encode_row(owned, row)), "site_id": owned.site_of(conn, row),
                            "at": now})  # fmt: skip
    conn.execute(insert(FleetChange), upserts + list(reversed(deletes)))


# ---- central: serve -------------------------------------------------------------------------------


def current_version(session: Session) -> int:
    return int(session.scalar(select(func.max(FleetChange.id))) or 0)


def build_feed(session: Session, site_id: int, since: int, now: datetime, limit: int = 2000) -> dict[str, Any]:
    """The changes after `since` for an edge of `site_id`, or a full snapshot when `since` is 0 (or unknown)."""
    version = current_version(session)
    doc: dict[str, Any] = {"version": version, "full": False, "more": False, "changes": []}
    if since <= 0 or since > version:
        doc["full"] = True
        for owned in ordered():
            query = select(owned.table)
            if (where := owned.where(site_id)) is not None:
                query = query.where(where)
            for row in session.execute(query).mappings():
                doc["changes"].append({"table": owned.table.name, "op": "upsert", "row": encode_row(owned, row)})
    else:
        rows = session.scalars(
            select(FleetChange)
            .where(FleetChange.id > since, FleetChange.id <= version)
            .where((FleetChange.site_id.is_(None)) | (FleetChange.site_id == site_id))
            .order_by(FleetChange.id)
            .limit(limit)
        ).all()
        for change in rows:
            doc["changes"].append({"table": change.table_name, "op": change.op, "key": json.loads(change.row_key),
                                   "row": json.loads(change.row)})  # fmt: skip
        if len(rows) == limit:
            doc["version"], doc["more"] = rows[-1].id, True
    for name, section in SECTIONS.items():
        doc[name] = section.build(session, site_id, now)
    return doc


def etag(session: Session, site_id: int) -> str:
    """Changes when the feed for this site may have: the version and each section's marker."""
    parts = [str(current_version(session))] + [str(s.marker(session, site_id)) for s in SECTIONS.values()]
    return "-".join(parts)


# ---- edge: apply ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Applied:
    upserts: int = 0
    deletes: int = 0
    deactivated: int = 0
    skipped: list[str] = field(default_factory=list)


def apply_feed(session: Session, doc: Mapping[str, Any]) -> Applied:
    """Apply one feed document in the caller's transaction; the caller commits (all of it or none)."""
    conn = session.connection()
    result = Applied()
    seen: dict[str, set[str]] = {}
    for change in doc.get("changes", []):
        owned = OWNED.get(str(change.get("table")))
        if owned is None:
            result.skipped.append(str(change.get("table")))
            continue
        if change["op"] == "upsert":
            values = decode_row(owned, change["row"])
            key = _key_of(owned, values)
            seen.setdefault(owned.table.name, set()).add(json.dumps(key, sort_keys=True, default=str))
            done = conn.execute(sql_update(owned.table).where(_pk_clause(owned, key)).values(values))
            if not done.rowcount:
                conn.execute(insert(owned.table).values(values))
            result.upserts += 1
        else:
            _delete(session, owned, change["key"], result)
    if doc.get("full"):
        _drop_missing(session, seen, result)
    for name, section in SECTIONS.items():
        if name in doc:
            section.apply(session, list(doc[name]))
    set_state(session, "version", str(int(doc["version"])))
    return result


def _delete(session: Session, owned: Owned, key: Mapping[str, Any], result: Applied) -> None:
    """Delete a row; one the edge's own facts still point at (a worker with dispenses) is deactivated instead."""
    try:
        with session.begin_nested():
            session.connection().execute(delete(owned.table).where(_pk_clause(owned, key)))
        result.deletes += 1
    except IntegrityError:
        if "active" in owned.table.columns:
            session.connection().execute(sql_update(owned.table).where(_pk_clause(owned, key)).values(active=False))
            result.deactivated += 1


def _drop_missing(session: Session, seen: dict[str, set[str]], result: Applied) -> None:
    conn = session.connection()
    for owned in reversed(ordered()):
        keep = seen.get(owned.table.name, set())
        pk = list(owned.table.primary_key.columns)
        for row in conn.execute(select(*pk)).mappings().all():
            key = dict(row)
            if json.dumps(key, sort_keys=True, default=str) not in keep:
                _delete(session, owned, key, result)


def get_state(session: Session, key: str, default: str = "") -> str:
    value = session.scalar(select(FleetState.value).where(FleetState.key == key))
    return default if value is None else value


def set_state(session: Session, key: str, value: str) -> None:
    conn = session.connection()
    if not conn.execute(sql_update(FleetState).where(FleetState.key == key).values(value=value)).rowcount:
        conn.execute(insert(FleetState).values(key=key, value=value))


def owned_rows(session: Session) -> dict[str, int]:
    """How many rows each owned table holds (an edge is enrolled on an empty database)."""
    return {o.table.name: int(session.scalar(select(func.count()).select_from(o.table)) or 0) for o in ordered()}


# ---- edge: refuse local edits ---------------------------------------------------------------------


def refuse_local_edits(factory: sessionmaker[Session], central_url: str) -> None:
    """Every ORM change of an owned table (other than its local columns) fails with where to make it instead."""

    def check(session: Session, _context: Any, _instances: Any) -> None:
        for objects in (session.new, session.dirty, session.deleted):
            for obj in objects:
                table = getattr(obj, "__table__", None)
                owned = OWNED.get(table.name) if table is not None else None
                if owned is None or (obj in session.dirty and not _changed_columns(obj, owned)):
                    continue
                label = gettext(owned.label) if owned.label else owned.table.name
                raise Forbidden(
                    gettext(
                        "%(label)s are managed by the central server on this edge: edit them at %(url)s; the change "
                        "reaches this edge within a minute",
                        label=label,
                        url=central_url + owned.edit_at,
                    ),
                    field=owned.table.name,
                    code="managed_centrally",
                )

    event.listen(factory, "before_flush", check)


register(Owned(Site.__table__, label=N_("sites"), edit_at="/admin/sites"))  # type: ignore[arg-type]
register(Owned(Item.__table__, label=N_("items and prices"), edit_at="/vending/items"))  # type: ignore[arg-type]
register(Owned(CostCenter.__table__, label=N_("cost centers"), edit_at="/admin/sites"))  # type: ignore[arg-type]
