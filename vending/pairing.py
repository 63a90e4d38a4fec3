"""Kiosk pairing: a browser becomes one machine's kiosk through a DEVICE token bound to that machine.

The token is an ordinary core API token (stored hashed, listed and revoked on /admin/tokens); the binding to
the machine is a vending row (`KioskPairing`), so the token opens that machine's kiosk and no other, whether it
arrives in the pairing cookie or as a bearer header. The browser keeps the plain token in an HttpOnly,
SameSite=Strict cookie whose name web chooses (`app.config["DEVICE_COOKIE_NAME"]`); web reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import lazy_gettext
from sqlalchemy import ColumnElement, Label, bindparam, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core import audit, users
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.models import ApiToken
from core.prepared import FastWork, Prepared
from core.roles import TokenScope
from core.security import hash_token
from vending.models import KioskPairing, Machine

# Browsers cap a cookie's lifetime at 400 days; every kiosk page load renews it, so a kiosk in use stays paired.
COOKIE_MAX_AGE = timedelta(days=400)
NAME_LENGTH = 100  # api_token.name


@dataclass(frozen=True, slots=True)
class Paired:
    """A new pairing; `token` is the plain token, which goes into the cookie and is shown to nobody."""

    token: str
    token_id: int
    token_name: str
    machine_code: str


@dataclass(frozen=True, slots=True)
class PairingView:
    token_id: int
    token_name: str
    paired_by: str
    paired_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_name(machine_code: str, admin: str, now: datetime) -> str:
    """E.g. 'kiosk L1 paired by alice 2026-03-02' (the admin's name is cut, never the machine code)."""
    tail = f" {now.date().isoformat()}"
    head = f"kiosk {machine_code} paired by "
    return head + admin[: max(NAME_LENGTH - len(head) - len(tail), 0)] + tail


def pair(
    session: Session, machine_id: int, admin: str, actor: str, clock: Clock, replacing: str | None = None
) -> Paired:
    """Issue a DEVICE token bound to the machine; `replacing` is the token this browser held, retired if paired."""
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(lazy_gettext("no machine with id %(machine_id)s", machine_id=machine_id), field="machine_id")
    if not machine.active:
        raise DomainError(
            lazy_gettext("machine %(code)s is switched off: activate it before pairing a kiosk", code=machine.code),
            field="machine",
        )
    if replacing:
        _retire(session, replacing, actor, clock)
    now = clock.now()
    name = token_name(machine.code, admin, now)
    plain, view = users.create_token(
        session, name, [TokenScope.DEVICE], site_id=machine.site_id, actor=actor, clock=clock
    )
    session.add(KioskPairing(token_id=view.id, machine_id=machine.id, paired_by=actor, paired_at=now))
    audit.record(
        session,
        actor,
        "vending.kiosk.pair",
        "vending_machine",
        machine.id,
        after={"machine": machine.code, "token_id": view.id, "token_name": name},
        clock=clock,
    )
    return Paired(plain, view.id, name, machine.code)


def _retire(session: Session, plain: str, actor: str, clock: Clock) -> None:
    """Re-pairing a browser revokes the pairing token it held, so no live token is left without a holder."""
    token_id = session.scalar(
        select(ApiToken.id)
        .join(KioskPairing, KioskPairing.token_id == ApiToken.id)
        .where(ApiToken.token_hash == hash_token(plain), ApiToken.revoked_at.is_(None))
    )
    if token_id is not None:
        users.revoke_token(session, token_id, actor=actor, clock=clock)


def bound_column(token_id: ColumnElement[int]) -> Label[str]:
    """The code of the machine the token is paired with as a scalar subquery labelled `bound` (None: the token is
    not a kiosk pairing), for one-row reads: `bound_machine` and the kiosk's first read (vending.kiosk_common)."""
    return (
        select(Machine.code)
        .join(KioskPairing, KioskPairing.machine_id == Machine.id)
        .where(KioskPairing.token_id == token_id)
        .scalar_subquery()
        .label("bound")
    )


_BOUND = Prepared(select(bound_column(bindparam("p_token"))))


def bound_machine(session: Session | FastWork, token_id: int) -> str | None:
    """The code of the machine a token is paired with, or None for a token that is not a kiosk pairing."""
    found = FastWork.of(session).mapping(_BOUND, {"p_token": token_id})  # compiled once
    return None if found is None or found["bound"] is None else str(found["bound"])


def for_machine(session: Session, machine_id: int) -> list[PairingView]:
    rows = session.execute(
        select(KioskPairing, ApiToken)
        .join(ApiToken, ApiToken.id == KioskPairing.token_id)
        .where(KioskPairing.machine_id == machine_id)
        .order_by(KioskPairing.paired_at.desc(), KioskPairing.token_id.desc())
    ).all()
    return [PairingView(t.id, t.name, p.paired_by, p.paired_at, t.last_used_at, t.revoked_at) for p, t in rows]


def cookie_name() -> str:
    return str(current_app.config["DEVICE_COOKIE_NAME"])


def set_cookie(response: Response, plain: str) -> Response:
    secure = request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    response.set_cookie(
        cookie_name(),
        plain,
        max_age=int(COOKIE_MAX_AGE.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="Strict",
    )
    return response
