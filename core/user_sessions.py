"""Server-side sessions of signed-in people: started at login, looked up on every request, ended for good.

The browser's cookie carries only a random session id (inside Flask's signed cookie); the database keeps its
SHA-256, the user, when it expires and whether it has ended. Ending the row refuses every copy of the cookie,
which a client-side session cannot do: logout ends this session, a password change or a deactivation ends all
of the user's sessions, and every session ends by itself `LIFETIME` after login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import utc
from core.models import User, UserSession

LIFETIME = timedelta(hours=12)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # pages poll every second: "last seen" to the minute saves writes


@dataclass(frozen=True, slots=True)
class ActiveSession:
    id: int
    user_id: int


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, user_id: int, now: datetime, address: str = "", lifetime: timedelta = LIFETIME) -> str:
    """A new session for the user; returns the plain id for the cookie (only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            sid_hash=_hash(sid),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            address=address[:64],
        )
    )
    session.flush()
    return sid


def resolve(session: Session, sid: str, now: datetime) -> ActiveSession | None:
    """The live session behind a cookie's id, or None if it is unknown, ended, expired or its user is inactive."""
    row = session.scalar(
        select(UserSession)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.sid_hash == _hash(sid), UserSession.ended_at.is_(None), User.active.is_(True))
    )
    if row is None or utc(row.expires_at) <= now:
        return None
    if now - utc(row.last_seen_at) >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
    return ActiveSession(row.id, row.user_id)


def end(session: Session, sid: str, now: datetime, reason: str = "logout") -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.sid_hash == _hash(sid), UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )


def end_all(session: Session, user_id: int, now: datetime, reason: str) -> int:
    """End every live session of a user; returns how many were ended."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_count(session: Session, user_id: int, now: datetime) -> int:
    rows = session.scalars(
        select(UserSession.expires_at).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    )
    return sum(1 for expires in rows if utc(expires) > now)
