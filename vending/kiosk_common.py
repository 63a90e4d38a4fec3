"""What the kiosk's page and API modules share: the access rule, the paired-machine check and the signed-in worker.

The kiosk device is authenticated (a logged-in admin/restocker opened it, or a DEVICE-scope token: a bearer
header, or the cookie of a browser an admin paired with the machine, see vending.pairing); a token paired with
one machine opens that machine's kiosk only. The worker signs in inside it by badge or ID + PIN and is signed
out after inactivity (the worker's sign-in lives in the kiosk browser's session cookie).

Every kiosk call starts with one prepared read (`kiosk_context`: the token's paired machine, the machine, its
site's zone and charge-code modes, the live worker's card); the checks before the view and the status reuse it
for that request only, so nothing read is kept from one call to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, request, session
from flask_babel import lazy_gettext, refresh
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core import access
from core.errors import DomainError, Forbidden, NotFound
from core.models import Site
from core.prepared import FastWork, Prepared
from core.roles import Role, TokenScope
from core.runtime import AppServices
from vending import charges, languages, pairing
from vending.models import Machine
from vending.workers import WorkerCard, card_columns, card_from

KIOSK = access.roles(Role.ADMIN, Role.RESTOCKER, scopes=(TokenScope.DEVICE,), device_cookie=True)
DEFAULT_IDLE_SECONDS = 60


class NoWorker(DomainError):
    status = 409
    code = "no_worker"


def _machine_column(column: Any) -> Any:
    return select(column).where(Machine.code == bindparam("p_code")).scalar_subquery()


# Read before every kiosk call, one row of scalar subqueries compiled once (core.prepared): the machine the calling
# token is paired with, the machine, its site's zone and charge-code modes, the live worker's card. No token and
# no worker has id -1 (ids start at 1).
_SITE = _machine_column(Machine.site_id)
_CONTEXT = Prepared(
    select(
        pairing.bound_column(bindparam("p_token")),
        _machine_column(Machine.id).label("machine_id"),
        _SITE.label("site_id"),
        _machine_column(Machine.active).label("active"),
        _machine_column(Machine.language).label("machine_language"),
        select(Site.timezone).where(Site.id == _SITE).scalar_subquery().label("timezone"),
        *card_columns(bindparam("p_worker")),
        *charges.mode_columns(_SITE),
    )
)


@dataclass(frozen=True, slots=True)
class MachineRef:
    id: int
    code: str
    site_id: int


@dataclass(frozen=True, slots=True)
class KioskContext:
    """What a kiosk call reads first, in one statement (`kiosk_context`): `bound` the code of the machine the calling
    token is paired with (None: not a pairing token); `machine` None when no active machine has the code; `language`
    the machine's ("" = the browser's); `worker` the card of the worker whose sign-in was live (`worker_id`)."""

    code: str
    bound: str | None
    machine: MachineRef | None
    language: str
    zone: str
    worker_id: int | None
    worker: WorkerCard | None
    charge_modes: dict[str, str]


def kiosk_context() -> KioskContext:
    """This request's `KioskContext` for the machine in its path: read once per request and kept in `g` only, so
    every request sees the database as it is (writes from any process show at the next call)."""
    found: KioskContext | None = g.get("kiosk_context")
    if found is not None:
        return found
    code = str((request.view_args or {}).get("machine_code") or "")
    principal = g.get("principal")
    token_id = principal.id if principal is not None and principal.kind == "token" else -1
    worker_id = live_worker_id(code)
    row = kiosk_read_work().mapping(
        _CONTEXT, {"p_code": code, "p_token": token_id, "p_worker": -1 if worker_id is None else worker_id}
    )
    if row is None:  # a select without FROM always gives one row
        raise RuntimeError("the kiosk's first read gave no row")
    machine = None
    if row["machine_id"] is not None and row["active"]:
        machine = MachineRef(int(row["machine_id"]), code, int(row["site_id"]))
    bound = row["bound"]
    found = KioskContext(
        code,
        None if bound is None else str(bound),
        machine,
        str(row["machine_language"] or ""),
        str(row["timezone"] or "UTC"),
        worker_id,
        card_from(row),
        charges.modes_from(row),
    )
    g.kiosk_context = found
    return found


def only_the_paired_machine() -> None:
    """A token paired with a machine opens that machine's kiosk only (in the cookie or as a bearer header)."""
    principal = g.get("principal")
    if principal is None or principal.kind != "token":
        return
    bound = kiosk_context().bound
    wanted = (request.view_args or {}).get("machine_code")
    if bound is not None and bound != wanted:
        raise Forbidden(
            lazy_gettext(
                "this kiosk is paired with machine %(bound)s: it cannot open %(wanted)s", bound=bound, wanted=wanted
            ),
            field="machine",
        )


def kiosk_language() -> None:
    """The kiosk's language for this request (web/i18n.py reads `g.kiosk_language` first): the signed-in worker's
    own language while their sign-in is live, else the machine's ("" = the browser's choice).

    Read from the database on each call (`kiosk_context`; the worker id is in the kiosk browser's signed session
    cookie), so any web process answers in the same language, and an admin's change shows at the next screen
    update."""
    if not (request.view_args or {}).get("machine_code"):
        return
    context = kiosk_context()
    own = context.worker.language if context.worker is not None else ""
    g.kiosk_worker_language = own
    g.kiosk_language = own or context.language
    refresh()  # forget a locale chosen earlier in this request


def live_worker_id(machine_code: str) -> int | None:
    """The worker signed in on this machine's kiosk in this browser, unless their inactivity time is up."""
    state = session.get("kiosk")
    if not state or state.get("m") != machine_code:
        return None
    try:
        last = datetime.fromisoformat(state["t"])
        worker_id = int(state["w"])
    except (KeyError, TypeError, ValueError):
        return None
    return worker_id if kiosk_now() - last <= timedelta(seconds=idle_seconds()) else None


def app_services() -> AppServices:
    return current_app.extensions["vendtrack"]


def kiosk_db() -> Session:
    """The request's session."""
    return current_app.extensions["vendtrack_db"]()


def kiosk_read_db() -> Session:
    """The request's session for reading only: the status a screen asks for every few seconds, the pairing and
    language checks before each call (on SQLite it never waits for the write lock)."""
    return current_app.extensions["vendtrack_read_db"]()


def kiosk_read_work() -> FastWork:
    """Prepared reads without a Session (web.session.read_work): the checks before each kiosk call, its status."""
    work: FastWork = current_app.extensions["vendtrack_read_work"]()
    return work


def kiosk_now() -> datetime:
    return app_services().clock.now()


def idle_seconds() -> int:
    return int(current_app.config.get("VENDING_KIOSK_IDLE_SECONDS", DEFAULT_IDLE_SECONDS))


def active_machine(db: Session, code: str) -> Machine:
    machine = db.scalar(select(Machine).where(Machine.code == code, Machine.active.is_(True)))
    if machine is None:
        raise NotFound(
            lazy_gettext("no active machine %(code)s: check the kiosk address", code=repr(code)), field="machine"
        )
    return machine


class KioskMachine(Protocol):
    """What the kiosk's reads need of a machine: a Machine row or a MachineRef."""

    @property
    def id(self) -> int: ...

    @property
    def code(self) -> str: ...

    @property
    def site_id(self) -> int: ...


def active_machine_ref() -> MachineRef:
    """`active_machine` for views that only read (the kiosk's status): from this request's `kiosk_context`."""
    context = kiosk_context()
    if context.machine is None:
        raise NotFound(
            lazy_gettext("no active machine %(code)s: check the kiosk address", code=repr(context.code)),
            field="machine",
        )
    return context.machine


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def signed_in_worker(machine: KioskMachine) -> int:
    """The signed-in worker of this kiosk, refreshed on every call; inactivity signs them out."""
    state = session.get("kiosk")
    if not state or state.get("m") != machine.code:
        raise NoWorker(lazy_gettext("nobody is signed in: badge in or enter your ID and PIN"), field="badge")
    last = datetime.fromisoformat(state["t"])
    if kiosk_now() - last > timedelta(seconds=idle_seconds()):
        session.pop("kiosk", None)
        raise NoWorker(lazy_gettext("signed out after inactivity: badge in again"), field="badge")
    state["t"] = kiosk_now().isoformat()
    session["kiosk"] = state
    return int(state["w"])


def kiosk_zone() -> tzinfo:
    """The time zone of the site of the machine in the path (UTC when it names none or an unknown one)."""
    try:
        return ZoneInfo(kiosk_context().zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None) -> str:
    """A time as the kiosk's site reads it, with its zone named: "Sun 06 Dec 14:00 CET"."""
    if moment is None:
        return ""
    local = moment.astimezone(kiosk_zone())
    return f"{languages.day_and_time(local)} {local.tzname()}"
