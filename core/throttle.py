"""Throttling of guessed secrets (web passwords, kiosk PINs): growing delays, then a lockout an admin can lift.

State lives in the database (`auth_throttle`), so every server process sees the same counts. A try is counted
*before* the secret is checked, under a row lock (SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE), in a short
transaction of its own: guesses fired in parallel, at one process or at several, each see the ones before them.
A try that turns out right is then taken back (`settle`). Keys that do not exist (an unknown username or worker
ID) are counted like real ones, so the answers and timing do not tell which names exist.

Per key the policy is: `free` failures without delay; then each failure makes the next try wait
`base_delay * 2**k` (k = 0, 1, 2, ..., capped at `max_delay`); at `lockout_after` failures the key is locked for
`lockout` (or until an admin lifts it). Failures older than `forget_after` are forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock, SystemClock, utc
from core.models import AuthThrottle


class Scope(StrEnum):
    ACCOUNT = "account"  # a web username (folded), existing or not
    ADDRESS = "address"  # the client address of web sign-ins (password spraying across many names)
    KIOSK_ID = "kiosk_id"  # a worker ID typed at a kiosk, existing or not


@dataclass(frozen=True, slots=True)
class Policy:
    free: int
    base_delay: timedelta
    max_delay: timedelta
    lockout_after: int
    lockout: timedelta
    forget_after: timedelta

    def delay(self, failures: int) -> timedelta | None:
        if failures <= self.free:
            return None
        return min(self.base_delay * 2 ** (failures - self.free - 1), self.max_delay)


POLICIES: dict[Scope, Policy] = {
    # 3 free, then 1 s, 2 s, 4 s ... 32 s, locked for an hour at the 10th failure
    Scope.ACCOUNT: Policy(3, timedelta(seconds=1), timedelta(minutes=1), 10, timedelta(hours=1), timedelta(hours=24)),
    # an office behind one address mistypes often; a spraying script tries hundreds of names
    Scope.ADDRESS: Policy(20, timedelta(seconds=1), timedelta(minutes=1), 100, timedelta(hours=1), timedelta(hours=1)),
    # the kiosk's long-standing rule: five wrong PINs lock the ID for fifteen minutes
    Scope.KIOSK_ID: Policy(5, timedelta(0), timedelta(0), 5, timedelta(minutes=15), timedelta(hours=24)),
}


class Wait(StrEnum):
    DELAY = "delay"  # try again after the growing delay
    LOCKED = "locked"  # locked out until `until` or an admin lifts it


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: Scope
    wait: Wait
    until: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """One counted try; hand it back to `settle` once the secret is checked."""

    scope: Scope
    key: str
    failures: int  # counting this try
    locked_now: bool  # this try reached the lockout (taken back if it was right)


@dataclass(frozen=True, slots=True)
class LockView:
    id: int
    scope: str
    key: str
    failures: int
    locked_until: datetime | None
    blocked_until: datetime | None


def _row(session: Session, scope: Scope, key: str) -> AuthThrottle:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AuthThrottle).values(scope=scope.value, key=key, failures=0).on_conflict_do_nothing())
    row = session.scalar(
        select(AuthThrottle)
        .where(AuthThrottle.scope == scope.value, AuthThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def claim(session: Session, keys: list[tuple[Scope, str]], now: datetime) -> list[Claim] | Refusal:
    """Count one try against every key, or refuse it (uncounted) if any key is waiting or locked.

    The caller commits right after, before the slow secret check, so the count is visible to every process."""
    rows = [(scope, _row(session, scope, key)) for scope, key in keys]
    for scope, row in rows:
        if row.locked_until is not None and utc(row.locked_until) > now:
            return Refusal(scope, Wait.LOCKED, utc(row.locked_until))
        if row.blocked_until is not None and utc(row.blocked_until) > now:
            return Refusal(scope, Wait.DELAY, utc(row.blocked_until))
    claims = []
    for scope, row in rows:
        policy = POLICIES[scope]
        if row.last_failure_at is not None and now - utc(row.last_failure_at) > policy.forget_after:
            row.failures = 0
        if row.locked_until is not None and utc(row.locked_until) <= now:
            row.failures, row.locked_until = 0, None  # a served lockout starts the count again
        row.failures += 1
        row.last_failure_at = now
        delay = policy.delay(row.failures)
        row.blocked_until = now + delay if delay else None
        locked_now = row.failures >= policy.lockout_after
        if locked_now:
            row.locked_until, row.blocked_until = now + policy.lockout, None
        claims.append(Claim(scope, row.key, row.failures, locked_now))
    session.flush()
    return claims


def settle(session: Session, claims: list[Claim], right: bool, reset: frozenset[Scope] = frozenset()) -> None:
    """After the check: a right secret takes its try back, and clears the keys of the scopes in `reset`."""
    if not right:
        return
    for c in claims:
        row = _row(session, c.scope, c.key)
        if c.scope in reset:
            row.failures, row.blocked_until, row.locked_until, row.last_failure_at = 0, None, None, None
            continue
        row.failures = max(row.failures - 1, 0)
        if c.locked_now:
            row.locked_until = None
        if POLICIES[c.scope].delay(row.failures) is None:
            row.blocked_until = None


def lockouts(session: Session, now: datetime) -> list[LockView]:
    """Keys locked now or waiting a delay, for the admin page."""
    rows = session.scalars(select(AuthThrottle).order_by(AuthThrottle.scope, AuthThrottle.key))
    views = []
    for r in rows:
        locked = utc(r.locked_until) if r.locked_until is not None else None
        blocked = utc(r.blocked_until) if r.blocked_until is not None else None
        if (locked and locked > now) or (blocked and blocked > now):
            views.append(LockView(r.id, r.scope, r.key, r.failures, locked, blocked))
    return views


def lift(session: Session, lock_id: int, actor: str, clock: Clock | None = None) -> LockView | None:
    """An admin lifts a lockout (or a delay): the key starts from zero. Audited."""
    row = session.get(AuthThrottle, lock_id)
    if row is None:
        return None
    view = LockView(row.id, row.scope, row.key, row.failures, row.locked_until, row.blocked_until)
    session.execute(delete(AuthThrottle).where(AuthThrottle.id == lock_id))
    audit.record(
        session,
        actor,
        "auth.lockout_lifted",
        "auth_throttle",
        f"{row.scope}:{row.key}"[:64],
        before={"failures": view.failures, "locked_until": view.locked_until, "blocked_until": view.blocked_until},
        clock=clock or SystemClock(),
    )
    return view
