"""Workers at the machine: enrolment, badges, PINs with lockout, unknown-badge capture and sign-in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext
from sqlalchemy import ColumnElement, Label, bindparam, select
from sqlalchemy.orm import Session

from core import audit, throttle
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Site
from core.prepared import FastWork, Prepared
from core.security import hash_secret, verify_secret
from vending.badges import normalise
from vending.models import Credential, GroupMember, Machine, UnknownBadge, Worker, WorkerGroup

MAX_PIN_TRIES = throttle.POLICIES[throttle.Scope.KIOSK_ID].lockout_after
LOCKOUT = throttle.POLICIES[throttle.Scope.KIOSK_ID].lockout
NOT_ACCEPTED = lazy_gettext("badge or PIN not accepted")
_DUMMY_PIN_HASH = hash_secret("0000-no-such-worker")  # an unknown ID costs the same PIN hash as a known one


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: int
    worker_code: str
    name: str
    restocker: bool
    groups: tuple[str, ...]


class SignInRefused(Forbidden):
    """Sign-in refused at the kiosk; status 422 so a device caller is not mistaken for an unauthorised one."""

    status = 422
    code = "sign_in_refused"


def view(session: Session, worker: Worker) -> WorkerView:
    groups = session.scalars(
        select(WorkerGroup.name)
        .join(GroupMember, GroupMember.group_id == WorkerGroup.id)
        .where(GroupMember.worker_id == worker.id)
    )
    return WorkerView(worker.id, worker.worker_code, worker.name, worker.restocker, tuple(sorted(groups)))


def ensure_group(session: Session, name: str) -> WorkerGroup:
    name = name.strip()
    if not name:
        raise DomainError(lazy_gettext("group name is empty"), field="groups")
    group = session.scalar(select(WorkerGroup).where(WorkerGroup.name == name))
    if group is None:
        group = WorkerGroup(name=name)
        session.add(group)
        session.flush()
    return group


def create_worker(
    session: Session,
    worker_code: str,
    name: str,
    *,
    pin: str = "",
    groups: list[str] | None = None,
    badges: list[str] | None = None,
    site_id: int | None = None,
    restocker: bool = False,
    valid_until: datetime | None = None,
    language: str = "",  # checked by the caller (vending.languages.checked)
    actor: str = "system",
) -> Worker:
    worker_code = worker_code.strip()
    if not worker_code:
        raise DomainError(lazy_gettext("worker ID is empty: give the employee number"), field="worker_code")
    if session.scalar(select(Worker.id).where(Worker.worker_code == worker_code)) is not None:
        raise Conflict(
            lazy_gettext(
                "worker %(worker_code)s exists already: edit that worker instead", worker_code=repr(worker_code)
            ),
            field="worker_code",
        )
    if pin and (not pin.isdigit() or not 4 <= len(pin) <= 8):
        raise DomainError(lazy_gettext("PIN must be 4 to 8 digits"), field="pin")
    worker = Worker(
        worker_code=worker_code,
        name=name.strip() or worker_code,
        pin_hash=hash_secret(pin) if pin else "",
        site_id=site_id,
        restocker=restocker,
        valid_until=valid_until,
        active=True,
        failed_pins=0,
        language=language,
    )
    session.add(worker)
    session.flush()
    for group in groups or []:
        session.add(GroupMember(worker_id=worker.id, group_id=ensure_group(session, group).id))
    for badge in badges or []:
        add_badge(session, worker.id, badge, actor=actor)
    audit.record(session, actor, "vending.worker.create", "vending_worker", worker.id, after={"code": worker_code})
    return worker


def add_badge(session: Session, worker_id: int, raw: str, label: str = "", actor: str = "system") -> str:
    badge = normalise(raw)
    taken = session.scalar(select(Credential).where(Credential.value.in_(badge.candidates)))
    if taken is not None:
        if taken.worker_id == worker_id:
            return taken.value
        raise Conflict(
            lazy_gettext(
                "badge %(canonical)s belongs to another worker: remove it there first", canonical=badge.canonical
            ),
            field="badge",
        )
    session.add(Credential(worker_id=worker_id, value=badge.canonical, label=label))
    unknown = session.scalar(select(UnknownBadge).where(UnknownBadge.value.in_(badge.candidates)))
    if unknown is not None:
        unknown.enrolled = True
    audit.record(session, actor, "vending.badge.add", "vending_worker", worker_id, after={"badge": badge.canonical})
    return badge.canonical


def _site_time(session: Session, worker: Worker, moment: datetime) -> datetime:
    """`moment` on the clock of the worker's site (what the machine's users read on the wall)."""
    name = session.scalar(select(Site.timezone).where(Site.id == worker.site_id)) if worker.site_id else None
    try:
        return moment.astimezone(ZoneInfo(name or "UTC"))
    except (KeyError, ValueError):
        return moment.astimezone(ZoneInfo("UTC"))


def _clock_text(local: datetime) -> str:
    return f"{local:%H:%M} {local.tzname()}"


def _check_usable(session: Session, worker: Worker, now: datetime) -> None:
    if not worker.active:
        raise SignInRefused(lazy_gettext("this worker is deactivated: see your supervisor"), field="badge")
    if worker.valid_until is not None and worker.valid_until < now:
        expired = _site_time(session, worker, worker.valid_until)
        raise SignInRefused(
            lazy_gettext(
                "access expired on %(day)s: ask your supervisor to extend it", day=expired.strftime("%Y-%m-%d")
            ),
            field="badge",
        )


def sign_in_badge(session: Session, raw: str, now: datetime, machine_code: str = "") -> WorkerView:
    """Find the worker for a badge read; an unknown badge is recorded for enrolment and refused."""
    badge = normalise(raw)
    credential = session.scalar(select(Credential).where(Credential.value.in_(badge.candidates)))
    if credential is None:
        record_unknown(session, badge.canonical, raw, machine_code, now)
        raise SignInRefused(
            lazy_gettext(
                "badge %(badge)s is not enrolled; it was recorded so an administrator can enrol it",
                badge=badge.canonical,
            ),
            field="badge",
        )
    worker = session.get(Worker, credential.worker_id)
    assert worker is not None
    _check_usable(session, worker, now)
    return view(session, worker)


def record_unknown(session: Session, value: str, raw: str, machine_code: str, now: datetime) -> None:
    row = session.scalar(select(UnknownBadge).where(UnknownBadge.value == value))
    if row is None:
        session.add(UnknownBadge(value=value, raw=raw[:200], machine_code=machine_code, first_seen=now, last_seen=now))
    else:
        row.last_seen, row.times_seen, row.machine_code = now, row.times_seen + 1, machine_code


def sign_in_pin(session: Session, worker_code: str, pin: str, now: datetime, machine_code: str = "") -> WorkerView:
    """ID + PIN; five wrong tries lock the ID for fifteen minutes. The caller commits either way.

    An unknown ID, a worker without a PIN and a wrong PIN get the same answer after the same one PIN hash, and
    every ID typed counts towards its own lockout (core.throttle), so the kiosk does not tell which IDs exist."""
    code = worker_code.strip()[:64].replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL; no ID has one
    claims = throttle.claim(session, [(throttle.Scope.KIOSK_ID, code.casefold())], now)
    if isinstance(claims, throttle.Refusal):
        again = _clock_text(_machine_time(session, machine_code, claims.until))
        raise SignInRefused(lazy_gettext("badge or PIN not accepted: too many tries for this ID; try again at "
                                         "%(again)s or use your badge", again=again), field="pin")  # fmt: skip
    worker = session.scalar(select(Worker).where(Worker.worker_code == code)) if code else None
    stored = worker.pin_hash if worker is not None and worker.pin_hash else _DUMMY_PIN_HASH
    right = verify_secret(pin[:16], stored) and worker is not None and bool(worker.pin_hash)
    throttle.settle(session, claims, right, reset=frozenset({throttle.Scope.KIOSK_ID}))
    if not right:
        if claims[0].locked_now:
            until = _clock_text(_machine_time(session, machine_code, now + LOCKOUT))
            raise SignInRefused(lazy_gettext("badge or PIN not accepted %(n)s times: this ID is locked until "
                                             "%(until)s; use your badge", n=MAX_PIN_TRIES, until=until),
                                field="pin")  # fmt: skip
        left = MAX_PIN_TRIES - claims[0].failures
        if left == 1:
            said = lazy_gettext("badge or PIN not accepted: 1 try left before a 15-minute lockout; check your ID and "
                                "PIN or use your badge")  # fmt: skip
        else:
            said = lazy_gettext("badge or PIN not accepted: %(left)s tries left before a 15-minute lockout; check "
                                "your ID and PIN or use your badge", left=left)  # fmt: skip
        raise SignInRefused(said, field="pin")
    assert worker is not None
    _check_usable(session, worker, now)
    return view(session, worker)


def _machine_time(session: Session, machine_code: str, moment: datetime) -> datetime:
    """`moment` on the clock of the kiosk's site: the same for every ID typed there, known or not."""
    name = session.scalar(
        select(Site.timezone).join(Machine, Machine.site_id == Site.id).where(Machine.code == machine_code)
    )
    try:
        return moment.astimezone(ZoneInfo(name or "UTC"))
    except (KeyError, ValueError):
        return moment.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class WorkerCard:
    """What the kiosk's status shows of the signed-in worker."""

    worker_code: str
    name: str
    restocker: bool
    language: str


def card_columns(worker_id: ColumnElement[int]) -> list[Label[Any]]:
    """The card's fields as scalar subqueries labelled as `WorkerCard`'s, for one-row reads (None for no worker):
    `worker_card` and the kiosk's first read (vending.kiosk_common) read the card this way."""
    fields = (Worker.worker_code, Worker.name, Worker.restocker, Worker.language)
    return [select(field).where(Worker.id == worker_id).scalar_subquery().label(field.key) for field in fields]


def card_from(found: Mapping[str, Any] | None) -> WorkerCard | None:
    """The card from a row holding `card_columns`, or None when there is no such worker."""
    if found is None or found["worker_code"] is None:
        return None
    return WorkerCard(
        str(found["worker_code"]), str(found["name"]), bool(found["restocker"]), str(found["language"] or "")
    )


_CARD = Prepared(select(*card_columns(bindparam("p_id"))))


def worker_card(session: Session | FastWork, worker_id: int) -> WorkerCard:
    """`get_worker`'s fields the kiosk shows, by one prepared statement (the kiosk's status reads it each call)."""
    card = card_from(FastWork.of(session).mapping(_CARD, {"p_id": worker_id}))
    if card is None:
        raise NotFound(lazy_gettext("no worker with id %(worker_id)s", worker_id=worker_id), field="worker_id")
    return card


def get_worker(session: Session, worker_id: int) -> Worker:
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(lazy_gettext("no worker with id %(worker_id)s", worker_id=worker_id), field="worker_id")
    return worker


def group_ids(session: Session, worker_id: int) -> set[int]:
    return set(session.scalars(select(GroupMember.group_id).where(GroupMember.worker_id == worker_id)))
