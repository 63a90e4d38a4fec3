"""What the kiosk's page and API modules share: the access rule, the paired-machine check and the signed-in worker.

The kiosk device is authenticated (a logged-in admin/restocker opened it, or a DEVICE-scope token: a bearer
header, or the cookie of a browser an admin paired with the machine, see vending.pairing); a token paired with
one machine opens that machine's kiosk only. The worker signs in inside it by badge or ID + PIN and is signed
out after inactivity (the worker's sign-in lives in the kiosk browser's session cookie).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
from vending import languages, pairing
from vending.models import Machine, Worker

KIOSK = access.roles(Role.ADMIN, Role.RESTOCKER, scopes=(TokenScope.DEVICE,), device_cookie=True)
DEFAULT_IDLE_SECONDS = 60


class NoWorker(DomainError):
    status = 409
    code = "no_worker"


# Read before every kiosk call: one statement compiled once (core.prepared). No worker has id -1 (ids start at 1).
_LANGUAGES = Prepared(
    select(
        select(Machine.language).where(Machine.code == bindparam("p_code")).scalar_subquery(),
        select(Worker.language).where(Worker.id == bindparam("p_worker")).scalar_subquery(),
    )
)


def only_the_paired_machine() -> None:
    """A token paired with a machine opens that machine's kiosk only (in the cookie or as a bearer header)."""
    principal = g.get("principal")
    if principal is None or principal.kind != "token":
        return
    bound = pairing.bound_machine(kiosk_read_work(), principal.id)
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

    Read from the database on each call (the worker id is in the kiosk browser's signed session cookie), so any
    web process answers in the same language, and an admin's change shows at the next screen update."""
    code = (request.view_args or {}).get("machine_code")
    if not code:
        return
    worker_id = live_worker_id(code)
    found = kiosk_read_work().first(
        _LANGUAGES, {"p_code": code, "p_worker": -1 if worker_id is None else worker_id}
    )
    machine, own = found if found is not None else (None, None)
    g.kiosk_worker_language = own or ""
    g.kiosk_language = own or machine or ""
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


@dataclass(frozen=True, slots=True)
class MachineRef:
    id: int
    code: str
    site_id: int


_ACTIVE = Prepared(
    select(Machine.id, Machine.code, Machine.site_id).where(
        Machine.code == bindparam("p_code"), Machine.active.is_(True)
    )
)


def active_machine_ref(db: Session | FastWork, code: str) -> MachineRef:
    """`active_machine` for views that only read (the kiosk's status): one statement compiled once, no ORM row."""
    found = FastWork.of(db).first(_ACTIVE, {"p_code": code})
    if found is None:
        raise NotFound(
            lazy_gettext("no active machine %(code)s: check the kiosk address", code=repr(code)), field="machine"
        )
    return MachineRef(int(found[0]), str(found[1]), int(found[2]))


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


_SITE_ZONE = Prepared(select(Site.timezone).where(Site.id == bindparam("p_site")))


def local_time(moment: datetime | None, machine: KioskMachine) -> str:
    """A time as the site reads it, with its zone named: "Sun 06 Dec 14:00 CET"."""
    if moment is None:
        return ""
    found = kiosk_read_work().first(_SITE_ZONE, {"p_site": machine.site_id})
    try:
        zone = ZoneInfo((found[0] if found else None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{languages.day_and_time(local)} {local.tzname()}"
