"""The kiosk: the full-screen page at /kiosk/<machine> and the JSON calls it makes under /api/v1/vending/kiosk.

The kiosk device is authenticated (a logged-in admin/restocker opened it, or a DEVICE-scope token: a bearer
header, or the cookie of a browser an admin paired with the machine, see vending.pairing); a token paired with
one machine opens that machine's kiosk only. The worker signs in inside it by badge or ID + PIN and is signed
out after inactivity.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, current_app, g, jsonify, make_response, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import access
from core.errors import DomainError, Forbidden, NotFound
from core.events import ItemRequested
from core.models import Item, Site
from core.outbox import publish
from core.roles import Role, TokenScope
from core.runtime import AppServices
from core.validation import Int, Text, ValidationError, one, schema
from vending import authorise, charges, dispense, pairing, pictures, tools
from vending.models import Machine, Slot, SlotStock
from vending.runtime import runtime
from vending.workers import SignInRefused, get_worker, sign_in_badge, sign_in_pin

page_bp = Blueprint("vending_kiosk", __name__, template_folder="templates")
api_bp = Blueprint("vending_kiosk_api", __name__, url_prefix="/api/v1/vending/kiosk")
KIOSK = access.roles(Role.ADMIN, Role.RESTOCKER, scopes=(TokenScope.DEVICE,), device_cookie=True)
DEFAULT_IDLE_SECONDS = 60
MAX_QUANTITY = 999
DISPENSE = schema(
    slot=Text(max_length=16, required=True, hint="A3"),
    quantity=Int(minimum=1, maximum=MAX_QUANTITY, default=1),
    request_key=Text(max_length=120),
)
CHARGE_CODE = Text(max_length=64)
COUNTS = schema(counted=Int(minimum=0, maximum=100_000), added=Int(minimum=0, maximum=100_000, default=0))


class NoWorker(DomainError):
    status = 409
    code = "no_worker"


def _only_the_paired_machine() -> None:
    """A token paired with a machine opens that machine's kiosk only (in the cookie or as a bearer header)."""
    principal = g.get("principal")
    if principal is None or principal.kind != "token":
        return
    bound = pairing.bound_machine(_db(), principal.id)
    wanted = (request.view_args or {}).get("machine_code")
    if bound is not None and bound != wanted:
        raise Forbidden(f"this kiosk is paired with machine {bound}: it cannot open {wanted}", field="machine")


page_bp.before_request(_only_the_paired_machine)
api_bp.before_request(_only_the_paired_machine)


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


def _db() -> Session:
    return current_app.extensions["vendtrack_db"]()


def _now() -> datetime:
    return _services().clock.now()


def _idle() -> int:
    return int(current_app.config.get("VENDING_KIOSK_IDLE_SECONDS", DEFAULT_IDLE_SECONDS))


def _machine(db: Session, code: str) -> Machine:
    machine = db.scalar(select(Machine).where(Machine.code == code, Machine.active.is_(True)))
    if machine is None:
        raise NotFound(f"no active machine {code!r}: check the kiosk address", field="machine")
    return machine


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _worker_id(machine: Machine) -> int:
    """The signed-in worker of this kiosk, refreshed on every call; inactivity signs them out."""
    state = session.get("kiosk")
    if not state or state.get("m") != machine.code:
        raise NoWorker("nobody is signed in: badge in or enter your ID and PIN", field="badge")
    last = datetime.fromisoformat(state["t"])
    if _now() - last > timedelta(seconds=_idle()):
        session.pop("kiosk", None)
        raise NoWorker("signed out after inactivity: badge in again", field="badge")
    state["t"] = _now().isoformat()
    session["kiosk"] = state
    return int(state["w"])


def _grid(db: Session, machine: Machine) -> list[dict[str, Any]]:
    rows = db.execute(
        select(Slot, Item, SlotStock.on_hand, SlotStock.reserved)
        .join(Item, Item.id == Slot.item_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .where(Slot.machine_id == machine.id)
        .order_by(Slot.code)
    ).all()
    with_picture = pictures.with_pictures(db, {i.id for _, i, _, _ in rows})
    return [
        {
            "slot": s.code,
            "sku": i.sku,
            "name": i.name,
            "category": i.category,
            "state": s.state,
            "stock": max(int(on or 0) - int(res or 0), 0),
            "capacity": s.capacity,
            "picture": url_for("vending_kiosk.picture", machine_code=machine.code, item_id=i.id, v=with_picture[i.id])
            if i.id in with_picture
            else None,
        }
        for s, i, on, res in rows
    ]


def _signed_in(db: Session, machine: Machine, worker_id: int) -> dict[str, Any]:
    worker = get_worker(db, worker_id)
    modes = charges.modes(db, machine.site_id)
    return {
        "worker": {"code": worker.worker_code, "name": worker.name, "restocker": worker.restocker},
        "items": _grid(db, machine),
        "charge_modes": modes,
        "charge_lists": {k: charges.listed(db, machine.site_id, k) for k, m in modes.items() if m == "in_list"},
        "charge_labels": {k: charges.LABELS[k] for k in modes},
        "tools_out": [
            {"serial": t.serial, "name": t.name, "due_at": _local_time(t.due_at, machine)}
            for t in tools.checked_out_by(db, worker_id)
        ],
        "tools_available": [{"serial": t.serial, "name": t.name} for t in tools.available(db, _now())],
        "tools_unavailable": [  # who has a tool out is not shown to other workers
            {
                "serial": t.serial,
                "name": t.name,
                "reason": _kiosk_reason(t, reason, machine),
            }
            for t, reason in tools.unavailable(db, _now())
            if t.status != "out" or t.worker_code != worker.worker_code
        ],
        "idle_seconds": _idle(),
    }


def _kiosk_reason(view: tools.ToolView, reason: str, machine: Machine) -> str:
    """The Tools page's reason without naming another worker."""
    if view.status == "out":
        return f"checked out, due back {_local_time(view.due_at, machine)}"
    return "under repair" if view.status == "repair" else reason


def _local_time(moment: datetime | None, machine: Machine) -> str:
    """A time as the site reads it, with its zone named: "Sun 06 Dec 14:00 CET"."""
    if moment is None:
        return ""
    site = _db().get(Site, machine.site_id)
    try:
        zone = ZoneInfo(site.timezone if site else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _start(db: Session, machine: Machine, worker_id: int) -> Any:
    session["kiosk"] = {"m": machine.code, "w": worker_id, "t": _now().isoformat()}
    body = _signed_in(db, machine, worker_id)
    db.commit()
    return jsonify(body)


@page_bp.route("/kiosk/<machine_code>")
@KIOSK
def kiosk_page(machine_code: str) -> Any:
    machine = _machine(_db(), machine_code)
    principal = g.principal
    can_pair = principal.kind == "user" and Role.ADMIN.value in principal.roles
    response = make_response(
        render_template("vending/kiosk.html", machine=machine, idle_seconds=_idle(), can_pair=can_pair)
    )
    held = request.cookies.get(pairing.cookie_name())
    if held and principal.kind == "token" and not request.headers.get("Authorization"):
        pairing.set_cookie(response, held)  # a paired kiosk in use renews its cookie and never expires
    return response


@page_bp.route("/kiosk/<machine_code>/pictures/<int:item_id>")
@KIOSK
def picture(machine_code: str, item_id: int) -> Any:
    """Item pictures for the tiles, under the kiosk's own path (a paired browser opens its kiosk only)."""
    from vending.item_views import picture_response

    _machine(_db(), machine_code)
    return picture_response(item_id)


@api_bp.route("/<machine_code>/badge", methods=["POST"])
@KIOSK
def badge_in(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    try:
        badge = one(Text(max_length=200, required=True, hint="the badge number"), "badge", _body().get("badge"))
        worker = sign_in_badge(db, badge, _now(), machine.code)
    except SignInRefused:
        db.commit()  # the unknown badge is recorded for enrolment
        raise
    return _start(db, machine, worker.id)


@api_bp.route("/<machine_code>/pin", methods=["POST"])
@KIOSK
def pin_in(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    body = _body()
    try:
        login = schema(worker_code=Text(max_length=64, required=True), pin=Text(max_length=64, required=True))
        entered = login.parse(body)
        worker = sign_in_pin(db, entered["worker_code"], entered["pin"], _now(), machine.code)
    except SignInRefused:
        db.commit()  # the failed try counts towards the lockout
        raise
    return _start(db, machine, worker.id)


@api_bp.route("/<machine_code>/poll")
@KIOSK
def poll(machine_code: str) -> Any:
    """A badge read by this machine's serial reader, if any (the page then posts it to /badge).

    Polled every second while nobody is signed in: its answer must not carry the session cookie, or one that
    crosses a sign-in would put back the signed-out session (see web.cookies)."""
    g.session_read_only = True
    machine = _machine(_db(), machine_code)
    badge = runtime(_services()).inbox.take(machine.code)
    return jsonify({"badge": badge.raw if badge else None})


@api_bp.route("/<machine_code>/state")
@KIOSK
def state(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    return jsonify(_signed_in(db, machine, _worker_id(machine)))


@api_bp.route("/<machine_code>/logout", methods=["POST"])
@KIOSK
def logout(machine_code: str) -> Any:
    session.pop("kiosk", None)
    return jsonify({"signed_out": True})


@api_bp.route("/<machine_code>/dispense", methods=["POST"])
@KIOSK
def start_dispense(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    worker_id = _worker_id(machine)
    body = _body()
    asked = DISPENSE.parse(body)
    quantity = asked["quantity"]
    codes = body.get("charge_codes") or {}
    if not isinstance(codes, dict):
        raise ValidationError.one("charge_codes", 'charge_codes must be an object like {"job": "J-100"}')
    codes = {one(Text(max_length=16), "charge_codes", k): one(CHARGE_CODE, f"charge_codes.{k}", v)
             for k, v in codes.items()}  # fmt: skip
    for kind in codes:
        if kind not in charges.KINDS:
            raise DomainError(
                f"unknown charge code kind {str(kind)[:32]!r}: use {', '.join(charges.KINDS)}", field="charge_codes"
            )
    key = asked["request_key"] or uuid.uuid4().hex
    # its own short transaction (a double tap arriving twice at once returns the request that won); end the
    # page's transaction first: on SQLite it holds the write lock the request needs
    db.commit()
    result, known = authorise.request_in_own_transaction(
        _services().session_factory,
        machine=machine,
        worker_id=worker_id,
        slot_code=asked["slot"],
        quantity=quantity,
        charge_codes={str(k): str(v) for k, v in codes.items()},
        request_key=key,
        now=_now(),
    )
    if result.status == "authorised":
        runtime(_services()).runner.submit(result.id, known)
    return jsonify({"dispense": _as_json(result)})


@api_bp.route("/<machine_code>/dispense/<int:dispense_id>")
@KIOSK
def dispense_status(machine_code: str, dispense_id: int) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    found = dispense.facts(db, dispense_id)
    if found.machine_id != machine.id:
        raise NotFound(f"dispense {dispense_id} is not on {machine.code}", field="dispense_id")
    live = runtime(_services()).runner.phase(dispense_id) if found.view.status in dispense.IN_FLIGHT else None
    return jsonify({"dispense": _as_json(found.view, live)})


def _as_json(view: dispense.DispenseView, live_phase: str | None = None) -> dict[str, Any]:
    return {
        "id": view.id,
        "status": view.status,
        "phase": live_phase or view.phase,
        "detail": view.detail,
        "slot": view.slot_code,
        "sku": view.sku,
        "name": view.item_name,
        "quantity": view.quantity,
        "taken": view.taken,
    }


@api_bp.route("/<machine_code>/request-item", methods=["POST"])
@KIOSK
def request_item(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    worker = get_worker(db, _worker_id(machine))
    text = one(Text(max_length=500, required=True, hint="nitrile gloves size L"), "description",
               _body().get("description"))  # fmt: skip
    site = db.get(Site, machine.site_id)
    publish(
        db,
        ItemRequested(
            occurred_at=_now(),
            site_code=site.code if site else "",
            machine=machine.code,
            worker=worker.worker_code,
            description=text,
        ),
    )
    db.commit()
    return jsonify({"requested": text})
