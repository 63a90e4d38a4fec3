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

from flask import Blueprint, current_app, g, jsonify, make_response, render_template, request, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import access
from core.errors import DomainError, Forbidden, NotFound
from core.events import ItemRequested
from core.models import Item, Site
from core.outbox import publish
from core.roles import Role, TokenScope
from core.runtime import AppServices
from vending import authorise, charges, dispense, pairing, restock, tools
from vending.models import Machine, Slot, SlotStock, Worker
from vending.runtime import runtime
from vending.workers import SignInRefused, get_worker, sign_in_badge, sign_in_pin

page_bp = Blueprint("vending_kiosk", __name__, template_folder="templates")
api_bp = Blueprint("vending_kiosk_api", __name__, url_prefix="/api/v1/vending/kiosk")
KIOSK = access.roles(Role.ADMIN, Role.RESTOCKER, scopes=(TokenScope.DEVICE,), device_cookie=True)
DEFAULT_IDLE_SECONDS = 60


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
    return [
        {
            "slot": s.code,
            "sku": i.sku,
            "name": i.name,
            "category": i.category,
            "state": s.state,
            "stock": max(int(on or 0) - int(res or 0), 0),
            "capacity": s.capacity,
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
        "tools_out": [t.serial for t in tools.checked_out_by(db, worker_id)],
        "tools_available": [{"serial": t.serial, "name": t.name} for t in tools.available(db, _now())],
        "idle_seconds": _idle(),
    }


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


@api_bp.route("/<machine_code>/badge", methods=["POST"])
@KIOSK
def badge_in(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    try:
        worker = sign_in_badge(db, str(_body().get("badge", "")), _now(), machine.code)
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
        worker = sign_in_pin(db, str(body.get("worker_code", "")), str(body.get("pin", "")), _now(), machine.code)
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
    try:
        quantity = int(body.get("quantity", 1))
    except (TypeError, ValueError):
        raise DomainError("quantity must be a whole number", field="quantity") from None
    codes = body.get("charge_codes") or {}
    if not isinstance(codes, dict):
        raise DomainError('charge_codes must be an object like {"job": "J-100"}', field="charge_codes")
    key = str(body.get("request_key") or uuid.uuid4().hex)[:120]
    # its own short transaction (a double tap arriving twice at once returns the request that won); end the
    # page's transaction first: on SQLite it holds the write lock the request needs
    db.commit()
    result, known = authorise.request_in_own_transaction(
        _services().session_factory,
        machine=machine,
        worker_id=worker_id,
        slot_code=str(body.get("slot", "")),
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
    text = str(_body().get("description", "")).strip()
    if not text:
        raise DomainError("say what you need, e.g. 'nitrile gloves size L'", field="description")
    site = db.get(Site, machine.site_id)
    publish(
        db,
        ItemRequested(
            occurred_at=_now(),
            site_code=site.code if site else "",
            machine=machine.code,
            worker=worker.worker_code,
            description=text[:500],
        ),
    )
    db.commit()
    return jsonify({"requested": text})


@api_bp.route("/<machine_code>/tools/checkout", methods=["POST"])
@KIOSK
def tool_checkout(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    worker_id = _worker_id(machine)
    body = _body()
    hours = int(body.get("hours", 8) or 8)
    view = tools.checkout(
        db,
        str(body.get("serial", "")),
        worker_id,
        _now() + timedelta(hours=hours),
        _now(),
        actor=f"kiosk:{machine.code}",
    )
    db.commit()
    return jsonify(
        {
            "tool": {
                "serial": view.serial,
                "status": view.status,
                "due_at": view.due_at.isoformat() if view.due_at else None,
            }
        }
    )


@api_bp.route("/<machine_code>/tools/return", methods=["POST"])
@KIOSK
def tool_return(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    _worker_id(machine)
    body = _body()
    view = tools.return_tool(
        db, str(body.get("serial", "")), str(body.get("condition", "ok")), _now(), actor=f"kiosk:{machine.code}"
    )
    db.commit()
    return jsonify({"tool": {"serial": view.serial, "status": view.status}})


def _restocker(db: Session, machine: Machine) -> Worker:
    worker = get_worker(db, _worker_id(machine))
    if not worker.restocker:
        raise DomainError(
            "restock mode is for restockers: ask the storeroom", field="badge", code="not_restocker", status=422
        )
    return worker


@api_bp.route("/<machine_code>/restock")
@KIOSK
def restock_list(machine_code: str) -> Any:
    db = _db()
    machine = _machine(db, machine_code)
    _restocker(db, machine)
    lines = restock.pick_list(db, machine.id)
    return jsonify(
        {
            "pick_list": [
                {
                    "slot": p.slot_code,
                    "name": p.item_name,
                    "on_hand": p.on_hand,
                    "max": p.max_level,
                    "to_pick": p.to_pick,
                }
                for p in lines
            ]
        }
    )


@api_bp.route("/<machine_code>/restock/<slot_code>", methods=["POST"])
@KIOSK
def restock_slot(machine_code: str, slot_code: str) -> Any:
    """Count what is in the slot (optional) and record what was added, as ledger entries."""
    db = _db()
    machine = _machine(db, machine_code)
    worker = _restocker(db, machine)
    body, key = _body(), str(_body().get("request_key") or uuid.uuid4().hex)[:100]
    result: dict[str, Any] = {"slot": slot_code}
    if body.get("counted") not in (None, ""):
        count = restock.record_count(
            db,
            machine.id,
            slot_code,
            int(body["counted"]),
            key=f"{key}:count",
            now=_now(),
            worker_id=worker.id,
            actor=f"kiosk:{machine.code}",
        )
        result.update(expected=count.expected, counted=count.counted, flagged=count.flagged)
    if int(body.get("added") or 0) > 0:
        result["on_hand"] = restock.record_fill(
            db,
            machine.id,
            slot_code,
            int(body["added"]),
            key=f"{key}:fill",
            now=_now(),
            worker_id=worker.id,
            actor=f"kiosk:{machine.code}",
        )
    db.commit()
    return jsonify(result)
