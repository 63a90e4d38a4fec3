"""Working an alert: acknowledge, assign to a user, snooze until a time, resolve with a note.

Each is one service call guarded by `tracking.states.ALERT_STATUS` (the same table that decides which buttons
a page shows), written with its compare-and-set UPDATE and audited. Only people whose role the alert's kind is
routed to (see `tracking.alert_routing`) may see or work it. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import User
from tracking.alert_routing import routes_for
from tracking.alerts import ENTITY, MAX_ID, AlertView, get_alert, may_see
from tracking.models import TrackingAlert
from tracking.states import ALERT_STATUS, AlertKind, AlertStatus, alert_action_target

NOTE_MAX = 2000
SNOOZE_MAX = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Worker:
    """Who works the alert: their audit actor, roles and user id (None for a token)."""

    actor: str
    roles: frozenset[str]
    user_id: int | None = None


def _load(session: Session, alert_id: int, who: Worker, now: datetime) -> AlertView:
    found = get_alert(session, alert_id, now)
    if found is None:
        raise NotFound(
            lazy_gettext("alert %(alert_id)s does not exist: pick one from the alerts list", alert_id=alert_id),
            field="alert_id",
        )
    view, _row = found
    if not may_see(session, view, who.roles):
        raise Forbidden(
            lazy_gettext(
                "%(label)s alerts are not routed to your role; ask an admin to change the routing",
                label=view.kind.label,
            )
        )
    return view


def _move(session: Session, view: AlertView, action: str, **values: Any) -> AlertStatus:
    target = alert_action_target(view.status, action)
    if target is None:  # let the table name the states in the error
        ALERT_STATUS.check(lazy_gettext("alert %(id)s", id=view.id), view.status, _any_target_of(action))
        raise AssertionError("unreachable: the table refused the move above")
    statement = ALERT_STATUS.compare_and_set(TrackingAlert.status, TrackingAlert.id, target, **values)
    changed = session.execute(statement, {"key": view.id}).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise Conflict(
            lazy_gettext("alert %(id)s was changed by someone else a moment ago: reload the page", id=view.id),
            field="status",
        )
    session.expire_all()
    return target


def _any_target_of(action: str) -> AlertStatus:
    for targets in ALERT_STATUS.transitions.values():
        for target, name in targets.items():
            if name == action:
                return target
    raise DomainError(lazy_gettext("unknown alert action %(action)s", action=repr(action)), field="action")


def acknowledge(session: Session, alert_id: int, who: Worker, clock: Clock) -> AlertStatus:
    view = _load(session, alert_id, who, clock.now())
    done = _move(session, view, "acknowledge", acknowledged_by=who.actor, snoozed_until=None)
    audit.record(session, who.actor, "alert.acknowledge", ENTITY, alert_id, before={"status": view.status.value},
                 after={"status": done.value}, clock=clock)  # fmt: skip
    return done


def assignable_users(session: Session, alert_id: int, now: datetime) -> list[tuple[int, str]]:
    """Active users whose role sees this alert's kind at its site: (id, name), by name."""
    found = get_alert(session, alert_id, now)
    if found is None:
        return []
    view = found[0]
    wanted = {r.value for r in routes_for(session, view.site_id).get(view.kind, frozenset())}
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name, User.username))
    return [(u.id, u.display_name or u.username) for u in users if u.role_set() & wanted]


def assign(session: Session, alert_id: int, assignee_id: int, who: Worker, clock: Clock) -> AlertStatus:
    view = _load(session, alert_id, who, clock.now())
    user = session.get(User, assignee_id) if 0 < assignee_id <= MAX_ID else None
    if user is None or not user.active:
        raise DomainError(lazy_gettext("user %(assignee_id)s does not exist or is inactive: pick someone from the "
                                       "list", assignee_id=assignee_id),
                          field="assignee_id")  # fmt: skip
    if not may_see(session, view, user.role_set()):
        raise DomainError(lazy_gettext("%(username)s cannot see %(label)s alerts: pick someone whose role they are "
                                       "routed to", username=user.display_name or user.username,
                                       label=view.kind.label), field="assignee_id")  # fmt: skip
    done = _move(session, view, "assign", assignee_id=user.id, snoozed_until=None)
    name = user.display_name or user.username
    audit.record(session, who.actor, "alert.assign", ENTITY, alert_id,
                 before={"status": view.status.value, "assignee_id": view.assignee_id},
                 after={"status": done.value, "assignee_id": user.id, "assignee": name}, clock=clock)  # fmt: skip
    return done


def snooze(session: Session, alert_id: int, until: datetime, who: Worker, clock: Clock) -> AlertStatus:
    now = clock.now()
    if until.tzinfo is None:
        raise DomainError(lazy_gettext("give the snooze time with its timezone (UTC)"), field="until")
    if until <= now:
        raise DomainError(
            lazy_gettext("the snooze time has already passed: choose a time in the future"), field="until"
        )
    if until - now > SNOOZE_MAX:
        raise DomainError(
            lazy_gettext("snooze for at most 7 days; resolve the alert if it needs no more work"), field="until"
        )
    view = _load(session, alert_id, who, now)
    done = _move(session, view, "snooze", snoozed_until=until)
    audit.record(session, who.actor, "alert.snooze", ENTITY, alert_id, before={"status": view.status.value},
                 after={"status": done.value, "until": until, "until_text": f"{until:%Y-%m-%d %H:%M} UTC"},
                 clock=clock)  # fmt: skip
    return done


def resolve(session: Session, alert_id: int, note: str, who: Worker, clock: Clock) -> AlertStatus:
    note = note.strip()
    if not note:
        raise DomainError(lazy_gettext("write what was done (the note is kept in the alert's history)"), field="note")
    if len(note) > NOTE_MAX or "\x00" in note:
        raise DomainError(
            lazy_gettext("the note must be plain text of at most %(note_max)s characters", note_max=NOTE_MAX),
            field="note",
        )
    now = clock.now()
    view = _load(session, alert_id, who, now)
    done = _move(session, view, "resolve", cleared_at=now, resolved_by=who.actor, resolution=note, snoozed_until=None)
    audit.record(session, who.actor, "alert.resolve", ENTITY, alert_id, before={"status": view.status.value},
                 after={"status": done.value, "note": note}, clock=clock)  # fmt: skip
    return done


__all__ = ["AlertKind", "Worker", "acknowledge", "assign", "assignable_users", "resolve", "snooze"]
