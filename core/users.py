"""User and API-token services: create, authenticate, set passwords, issue, verify and revoke.

Usernames are unique by their folded form (NFKC + casefold, `username_key`), so `ADMIN` cannot be created
beside `admin` and either spelling signs in. `authenticate` runs exactly one password hash whatever the name:
an unknown user is checked against a dummy hash, so a wrong name and a wrong password take the same time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit, passwords, push, token_cache, user_sessions
from core.clock import Clock, SystemClock, utc
from core.models import ApiToken, Site, User
from core.prepared import FastWork, Prepared
from core.roles import Role, TokenScope
from core.security import hash_secret, hash_token, new_token, verify_secret
from core.texts import gettext

LAST_USED_RESOLUTION = timedelta(minutes=1)
USERNAME_LENGTH = 64
# Hashed once per process with the real parameters: checking a password against it costs what a real check does.
_DUMMY_HASH = hash_secret("vendtrack: no such user")


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
    language: str = ""  # the language the user chose ("" = the browser's)


class Outcome(StrEnum):
    """How a sign-in ended; UNKNOWN and WRONG_PASSWORD get the same answer, DEACTIVATED only after a right password."""

    SIGNED_IN = "signed_in"
    UNKNOWN = "unknown"
    WRONG_PASSWORD = "wrong_password"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class SignIn:
    outcome: Outcome
    user: UserView | None  # set for SIGNED_IN only


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
    return UserView(
        user.id, user.username, user.display_name, user.email, user.role_set(), user.active, user.language or ""
    )


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
    username = _check_username(session, username)
    passwords.check(password, username, display_name)
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=hash_secret(password),
        roles=",".join(sorted(r.value for r in roles)),
        display_name=display_name or username,
        email=email,
        active=True,
        created_at=(clock or SystemClock()).now(),
    )
    try:
        with session.begin_nested():  # the unique index decides when two admins create the same name at once
            session.add(user)
            session.flush()
    except IntegrityError:
        raise UserError(
            gettext("user %(username)s exists already (names are compared ignoring case)", username=repr(username))
        ) from None
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


def username_key(username: str) -> str:
    """The folded name; a NUL (which PostgreSQL cannot store, and no valid username has) becomes U+FFFD."""
    return passwords.fold(username.strip()).replace("\x00", "\ufffd")


def _check_username(session: Session, raw: str) -> str:
    username = unicodedata.normalize("NFKC", raw).strip()
    if not username:
        raise UserError(gettext("username is empty: give a login name"))
    if len(username) > USERNAME_LENGTH:
        raise UserError(
            gettext(
                "username is longer than %(username_length)s characters: use a shorter login name",
                username_length=USERNAME_LENGTH,
            )
        )
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in username):
        raise UserError(
            gettext("username contains control or invisible characters: use letters, digits, '.', '-' or '_'")
        )
    taken = session.scalar(select(User.username).where(User.username_key == username_key(username)))
    if taken is not None:
        raise UserError(
            gettext(
                "user %(taken)s exists already (names are compared ignoring case): pick another username",
                taken=repr(taken),
            )
        )
    return username


def authenticate(session: Session, username: str, password: str) -> SignIn:
    """Check a name and password with exactly one password hash on every path (see the module docstring)."""
    user = session.scalar(select(User).where(User.username_key == username_key(username)))
    right = verify_secret(password[: passwords.MAX_LENGTH + 1], user.password_hash if user else _DUMMY_HASH)
    if user is None:
        return SignIn(Outcome.UNKNOWN, None)
    if not right:
        return SignIn(Outcome.WRONG_PASSWORD, None)
    if not user.active:
        return SignIn(Outcome.DEACTIVATED, None)
    return SignIn(Outcome.SIGNED_IN, _view(user))


def set_password(
    session: Session, user_id: int, password: str, actor: str, clock: Clock | None = None, reason: str = "reset"
) -> UserView:
    """Set a new password under the policy and end every session of the user (all copies of their cookies)."""
    user = session.get(User, user_id)
    if user is None:
        raise UserError(gettext("no user with id %(user_id)s", user_id=user_id))
    passwords.check(password, user.username, user.display_name)
    user.password_hash = hash_secret(password)
    now = (clock or SystemClock()).now()
    ended = user_sessions.end_all(session, user.id, now, reason=f"password_{reason}")
    audit.record(
        session, actor, f"user.password_{reason}", "user", user.id, after={"sessions_ended": ended}, clock=clock
    )
    return _view(user)


def check_password(session: Session, user_id: int, password: str) -> bool:
    user = session.get(User, user_id)
    return verify_secret(password[: passwords.MAX_LENGTH + 1], user.password_hash if user else _DUMMY_HASH)


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
        raise UserError(gettext("no user with id %(user_id)s", user_id=user_id))
    before = {"roles": sorted(user.role_set()), "active": user.active}
    user.roles = ",".join(sorted(r.value for r in roles))
    if user.active and not active:  # a deactivated user is signed out everywhere at once
        user_sessions.end_all(session, user.id, (clock or SystemClock()).now(), reason="deactivated")
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
        raise UserError(gettext("no user with id %(user_id)s", user_id=user_id))
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
    """Issue a bearer token; the plain token is returned once and only its hash is stored.

    An EDGE token forwards one site's events (core.event_scope), so it must name that site."""
    if not scopes:
        raise UserError(
            gettext(
                "a token needs at least one scope: %(tokenscope)s", tokenscope=", ".join(s.value for s in TokenScope)
            )
        )
    if TokenScope.EDGE in scopes and site_id is None:
        raise UserError(gettext("an edge token forwards one site's events: choose the site of that edge"))
    if site_id is not None and session.get(Site, site_id) is None:
        raise UserError(gettext("no site with id %(site_id)s: see the sites page", site_id=site_id))
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
        after={"name": name, "scopes": sorted(row.scope_set()), "site_id": site_id},
        clock=clock,
    )
    return plain, _token_view(row)


# Every API call checks its token: one statement compiled once, no ORM row, nothing written within the minute.
_TOKEN_BY_HASH = Prepared(
    select(ApiToken.id, ApiToken.name, ApiToken.scopes, ApiToken.site_id, ApiToken.created_at, ApiToken.revoked_at,
           ApiToken.last_used_at).where(ApiToken.token_hash == bindparam("token_hash"))
)  # fmt: skip
# Conditional, so that processes answering the same token at once write its last use once a minute between them.
_RECORD_USE = Prepared(
    update(ApiToken)
    .where(
        ApiToken.id == bindparam("token_id"),
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= bindparam("due_before")),
    )
    .values(last_used_at=bindparam("now"))
)


def token_for(session: Session | FastWork, plain: str) -> TokenView | None:
    """The unrevoked token whose plain value this is, read without writing anything (None: unknown or revoked)."""
    return _token_by_hash(session, hash_token(plain))


# The process's verified tokens (core.token_cache): a revocation made by another process is seen within 2 s, and in
# a serving process that follows the push notices (follow_revocations) as soon as the notice arrives.
TOKEN_CACHE: token_cache.TokenCache[TokenView] = token_cache.TokenCache()


def follow_revocations(hub: push.Hub) -> None:
    """Forget a token here when any process revokes it (`revoke_token` publishes push.REVOKED at its commit), so a
    serving process refuses it within the notice's delivery (a NOTIFY, or SQLite's 50 ms poll) rather than at the
    end of the cache's 2 s. A lost notice (the hub reconnecting) still leaves the 2 s bound."""

    def forget(notice: push.Notice) -> None:
        token_id = notice.data.get("token")
        if isinstance(token_id, int) and not isinstance(token_id, bool):
            TOKEN_CACHE.forget(token_id)

    hub.on(push.REVOKED, forget)


def live_token(read: Callable[[], Session | FastWork], database: str, plain: str) -> TokenView | None:
    """`token_for`, answered from the process's cache when the database said so within `token_cache.TTL_S`;
    `read` gives the handle to ask the database with (called only on a miss). `database` names the database."""
    token_hash = hash_token(plain)
    view = TOKEN_CACHE.get(database, token_hash)
    if view is None:
        view = _token_by_hash(read(), token_hash)
        if view is not None:
            TOKEN_CACHE.put(database, token_hash, view.id, view)
    return view


def used_now(database: str, plain: str, token: TokenView, now: datetime) -> None:
    """The cached view of `token` carries the last use just written, so the next calls do not write it again."""
    TOKEN_CACHE.replace(database, hash_token(plain), replace(token, last_used_at=now))


def _token_by_hash(session: Session | FastWork, token_hash: str) -> TokenView | None:
    row = FastWork.of(session).first(_TOKEN_BY_HASH, {"token_hash": token_hash})
    if row is None or row[5] is not None:
        return None
    token_id, name, scopes, site_id, created_at, revoked_at, last_used_at = row
    return TokenView(token_id, name, frozenset(s for s in scopes.split(",") if s), site_id, created_at, revoked_at,
                     last_used_at)  # fmt: skip


def last_use_due(token: TokenView, now: datetime) -> bool:
    """A kiosk or gateway calls every second: "last used" to the minute is enough, and saves a write per call."""
    return token.last_used_at is None or now - utc(token.last_used_at) >= LAST_USED_RESOLUTION


def record_use(session: Session | FastWork, token_id: int, now: datetime) -> bool:
    """Set the token's last use to `now` unless another call did within the minute; True if this one wrote."""
    due_before = now - LAST_USED_RESOLUTION
    return FastWork.of(session).rowcount(_RECORD_USE, {"token_id": token_id, "due_before": due_before, "now": now}) > 0


def verify_token(session: Session, plain: str, clock: Clock | None = None) -> TokenView | None:
    """The unrevoked token of this plain value, its last use recorded (to the minute) in the caller's transaction."""
    token = token_for(session, plain)
    if token is None:
        return None
    now = (clock or SystemClock()).now()
    if last_use_due(token, now) and record_use(session, token.id, now):
        return replace(token, last_used_at=now)
    return token


def revoke_token(session: Session, token_id: int, actor: str, clock: Clock | None = None) -> TokenView:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UserError(gettext("no token with id %(token_id)s: see `vendtrack token list`", token_id=token_id))
    if row.revoked_at is None:
        row.revoked_at = (clock or SystemClock()).now()
        TOKEN_CACHE.forget(row.id)  # this process refuses it at once; others within token_cache.TTL_S
        audit.record(session, actor, "token.revoke", "api_token", row.id, clock=clock)
        push.publish(session, push.REVOKED, {"token": row.id}, row.revoked_at)  # open event streams end at once
    return _token_view(row)


def list_tokens(session: Session) -> list[TokenView]:
    return [_token_view(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def _token_view(row: ApiToken) -> TokenView:
    return TokenView(row.id, row.name, row.scope_set(), row.site_id, row.created_at, row.revoked_at, row.last_used_at)
