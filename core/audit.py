"""Append-only audit log: who did what to which record, when, with the values before and after."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DDL, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock, SystemClock
from core.db import Base, UTCDateTime


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))  # "user:alice", "token:gateway-3", "system:replenish"
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before_json: Mapped[str] = mapped_column(Text, default="null")
    after_json: Mapped[str] = mapped_column(Text, default="null")
    comment: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    comment: str


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} in the audit log")


SECRET_KEYS = frozenset({"csrf_token", "password", "pin", "token", "secret"})  # never written to the log


def changed_fields(before: Any, after: Any) -> tuple[Any, Any]:
    """Drop form tokens and secrets; when both sides are mappings keep only the fields whose value changed."""
    before, after = _without_secrets(before), _without_secrets(after)
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        before = {k: before[k] for k in keys if k in before}
        after = {k: after[k] for k in keys if k in after}
    return before, after


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    return value


def record(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Any = None,
    after: Any = None,
    comment: str = "",
    clock: Clock | None = None,
) -> None:
    """Add an audit entry to the caller's unit of work (it commits with the change it describes).

    Form tokens and secrets are dropped; when before and after are both dicts, only the changed fields are kept."""
    before, after = changed_fields(before, after)
    session.add(
        AuditEntry(
            at=(clock or SystemClock()).now(),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before_json=json.dumps(before, default=_json_default, sort_keys=True),
            after_json=json.dumps(after, default=_json_default, sort_keys=True),
            comment=comment,
        )
    )


def as_json(value: Any) -> str:
    """A before or after value as the JSON it is stored as ("" for none)."""
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def history(session: Session, entity_type: str, entity_id: object) -> list[AuditRecord]:
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return [_to_record(row) for row in rows]


def recent(session: Session, limit: int = 200) -> list[AuditRecord]:
    return search(session, AuditQuery(), limit)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries an auditor asks for; each text matches a part of its field, in any case, and empty matches
    all: who "alice" finds user:alice, what "approve" finds po.approve, record "PO-000010" finds that order."""

    who: str = ""
    what: str = ""
    record: str = ""  # a part of the record's type or id
    since: datetime | None = None  # entries at or after this instant
    until: datetime | None = None  # entries before this instant
    older_than: int | None = None  # an entry id: the entries before it (the next page of a newest-first list)


def search(session: Session, query: AuditQuery, limit: int) -> list[AuditRecord]:
    """The newest `limit` entries that match `query`, newest first. Matching a part of a field is a scan from
    the newest entry back (no index serves it), bounded by the period when one is given (the `at` index serves
    that): fine for the pages an auditor reads, and the scan stops at `limit` matches."""
    asked = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if query.who:
        asked = asked.where(AuditEntry.actor.icontains(query.who, autoescape=True))
    if query.what:
        asked = asked.where(AuditEntry.action.icontains(query.what, autoescape=True))
    if query.record:
        asked = asked.where(
            AuditEntry.entity_id.icontains(query.record, autoescape=True)
            | AuditEntry.entity_type.icontains(query.record, autoescape=True)
        )
    if query.since is not None:
        asked = asked.where(AuditEntry.at >= query.since)
    if query.until is not None:
        asked = asked.where(AuditEntry.at < query.until)
    if query.older_than is not None:
        asked = asked.where(AuditEntry.id < query.older_than)
    return [_to_record(row) for row in session.scalars(asked)]


def _to_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        before=json.loads(row.before_json),
        after=json.loads(row.after_json),
        comment=row.comment,
    )


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")


# Database triggers make the log append-only for raw SQL too (installed by the core migration).
APPEND_ONLY_TRIGGERS = {  # i18n: SQL for the database
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}


def _install_triggers_on_create() -> None:
    table = AuditEntry.__table__
    for dialect, statements in APPEND_ONLY_TRIGGERS.items():
        for statement in statements:
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


_install_triggers_on_create()
