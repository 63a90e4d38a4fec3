"""User and API-token services: create, authenticate, issue, verify and revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock, SystemClock, utc
from core.models import ApiToken, User
from core.roles import Role, TokenScope
from core.security import hash_secret, hash_token, new_token, verify_secret

LAST_USED_RESOLUTION = timedelta(minutes=1)


class UserError(ValueError):
    """A user or token request that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    display_name: str
    email: str
    roles: frozenset[str]
    active: bool


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    scopes: frozenset[str]
    site_id: int | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _view(user: User) -> UserView:
    return UserView(user.id, user.username, user.display_name, user.email, user.role_set(), user.active)


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[Role],
    display_name: str = "",
    email: str = "",
    actor: str = "system",
    clock: Clock | None = None,
) -> UserView:
    username = username.strip()
    if not username:
        raise UserError("username is empty: give a login name")
    if len(password) < 8:
        raise UserError("password is too short: use at least 8 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already: pick another username")
    user = User(
        username=username,
        password_hash=hash_secret(password),
        roles=",".join(sorted(r.value for r in roles)),
        display_name=display_name or username,
        email=email,
        active=True,
        created_at=(clock or SystemClock()).now(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after={"username": username, "roles": sorted(r.value for r in roles)},
        clock=clock,
    )
    return _view(user)


def authenticate(session: Session, username: str, password: str) -> UserView | None:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or not verify_secret(password, user.password_hash):
        return None
    return _view(user)


def get_user(session: Session, user_id: int) -> UserView | None:
    user = session.get(User, user_id)
    return _view(user) if user is not None and user.active else None


def list_users(session: Session) -> list[UserView]:
    return [_view(u) for u in session.scalars(select(User).order_by(User.username))]


def update_user(
    session: Session, user_id: int, roles: list[Role], active: bool, actor: str, clock: Clock | None = None
) -> UserView:
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"no user with id {user_id}")
    before = {"roles": sorted(user.role_set()), "active": user.active}
    user.roles = ",".join(sorted(r.value for r in roles))
    user.active = active
    audit.record(
        session,
        actor,
        "user.update",
        "user",
        user.id,
        before=before,
        after={"roles": sorted(user.role_set()), "active": active},
        clock=clock,
    )
    return _view(user)


def set_roles(session: Session, user_id: int, roles: list[Role], actor: str, clock: Clock | None = None) -> UserView:
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"no user with id {user_id}")
    before = sorted(user.role_set())
    user.roles = ",".join(sorted(r.value for r in roles))
    audit.record(
        session,
        actor,
        "user.set_roles",
        "user",
        user.id,
        before={"roles": before},
        after={"roles": sorted(user.role_set())},
        clock=clock,
    )
    return _view(user)


def create_token(
    session: Session,
    name: str,
    scopes: list[TokenScope],
    site_id: int | None = None,
    actor: str = "system",
    clock: Clock | None = None,
) -> tuple[str, TokenView]:
    """Issue a bearer token; the plain token is returned once and only its hash is stored."""
    if not scopes:
        raise UserError("a token needs at least one scope: " + ", ".join(s.value for s in TokenScope))
    plain = new_token()
    row = ApiToken(
        name=name,
        token_hash=hash_token(plain),
        scopes=",".join(sorted(s.value for s in scopes)),
        site_id=site_id,
        created_at=(clock or SystemClock()).now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        "api_token",
        row.id,
        after={"name": name, "scopes": sorted(row.scope_set())},
        clock=clock,
    )
    return plain, _token_view(row)


def verify_token(session: Session, plain: str, clock: Clock | None = None) -> TokenView | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if row is None or row.revoked_at is not None:
        return None
    now = (clock or SystemClock()).now()
    # a kiosk or gateway calls every second: "last used" to the minute is enough, and saves a write per call
    if row.last_used_at is None or now - utc(row.last_used_at) >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return _token_view(row)


def revoke_token(session: Session, token_id: int, actor: str, clock: Clock | None = None) -> TokenView:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UserError(f"no token with id {token_id}: see `vendtrack token list`")
    if row.revoked_at is None:
        row.revoked_at = (clock or SystemClock()).now()
        audit.record(session, actor, "token.revoke", "api_token", row.id, clock=clock)
    return _token_view(row)


def list_tokens(session: Session) -> list[TokenView]:
    return [_token_view(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def _token_view(row: ApiToken) -> TokenView:
    return TokenView(row.id, row.name, row.scope_set(), row.site_id, row.created_at, row.revoked_at, row.last_used_at)
