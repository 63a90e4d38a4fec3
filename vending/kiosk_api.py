"""The kiosk's JSON calls under /api/v1/vending/kiosk/<machine>: sign-in, the item grid, dispenses, requests.

The floor calls (tools, restock mode) are routes of the same blueprint in vending.kiosk_floor; who may call
them is vending.kiosk_common.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify, session, url_for
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from core import notes
from core.errors import DomainError, NotFound
from core.events import ItemRequested
from core.models import Site
from core.outbox import publish
from core.prepared import FastWork
from core.texts import N_
from core.validation import Int, Text, ValidationError, one, schema
from vending import authorise, charges, dispense, dispense_handoff, faults, kiosk_grid, kiosk_state, tools
from vending.kiosk_common import (
    KIOSK,
    KioskMachine,
    active_machine,
    active_machine_ref,
    app_services,
    idle_seconds,
    json_body,
    kiosk_context,
    kiosk_db,
    kiosk_language,
    kiosk_now,
    kiosk_read_work,
    kiosk_zone,
    local_time,
    only_the_paired_machine,
    signed_in_worker,
)
from vending.models import Machine
from vending.workers import SignInRefused, get_worker, sign_in_badge, sign_in_pin, worker_card

api_bp = Blueprint("vending_kiosk_api", __name__, url_prefix="/api/v1/vending/kiosk")
api_bp.before_request(only_the_paired_machine)
api_bp.before_request(kiosk_language)
MAX_QUANTITY = 999
DISPENSE = schema(
    slot=Text(max_length=16, required=True, hint="A3"),  # i18n: an example slot code
    quantity=Int(minimum=1, maximum=MAX_QUANTITY, default=1),
    request_key=Text(max_length=120),
)
CHARGE_CODE = Text(max_length=64)


_ITEM_MARK, _ETAG_MARK = 987654321, "e7a9mark"  # stand-ins in one url_for, replaced per tile (ids, hex etags)


def _grid(db: Session | FastWork, machine: KioskMachine) -> list[dict[str, Any]]:
    template = url_for("vending_kiosk.picture", machine_code=machine.code, item_id=_ITEM_MARK, v=_ETAG_MARK)
    item_mark = f"/{_ITEM_MARK}"
    return [
        {
            "slot": tile.slot,
            "sku": tile.sku,
            "name": tile.name,
            "category": tile.category,
            "state": tile.state,
            "stock": tile.stock,
            "capacity": tile.capacity,
            "picture": template.replace(item_mark, f"/{tile.item_id}", 1).replace(_ETAG_MARK, tile.picture, 1)
            if tile.picture is not None
            else None,
        }
        for tile in kiosk_grid.grid(db, machine.id, kiosk_now().astimezone(kiosk_zone()).date())
    ]


def _signed_in(db: Session | FastWork, machine: KioskMachine, worker_id: int) -> dict[str, Any]:
    """The screen of a signed-in worker; the worker's card, the machine's site's zone and charge-code modes come
    from the call's first read (`kiosk_context`) when it was made for this worker."""
    context = kiosk_context()
    worker = context.worker if context.worker_id == worker_id and context.worker else worker_card(db, worker_id)
    modes = context.charge_modes
    available, unavailable = tools.by_availability(db, kiosk_now())
    return {
        "worker": {"code": worker.worker_code, "name": worker.name, "restocker": worker.restocker},
        "language": worker.language,  # "" = the kiosk's; else the screen reloads in this language
        "items": _grid(db, machine),
        "charge_modes": modes,
        "charge_lists": {k: charges.listed(db, machine.site_id, k) for k, m in modes.items() if m == "in_list"},
        "charge_labels": charges.shown_labels(),  # every kind (modes has them all)
        "tools_out": [  # from the same read of the tools: those this worker holds
            {"serial": t.serial, "name": t.name, "due_at": local_time(t.due_at)}
            for t, _reason in unavailable
            if t.status == "out" and t.worker_code == worker.worker_code
        ],
        "tools_available": [{"serial": t.serial, "name": t.name} for t in available],
        "tools_unavailable": [  # who has a tool out is not shown to other workers
            {
                "serial": t.serial,
                "name": t.name,
                "reason": _kiosk_reason(t, reason),
            }
            for t, reason in unavailable
            if t.status != "out" or t.worker_code != worker.worker_code
        ],
        "idle_seconds": idle_seconds(),
    }


def _kiosk_reason(view: tools.ToolView, reason: str) -> str:
    """The Tools page's reason without naming another worker."""
    if view.status == "out":
        return str(lazy_gettext("checked out, due back %(due)s", due=local_time(view.due_at)))
    return str(lazy_gettext("under repair")) if view.status == "repair" else reason


def _start(db: Session, machine: Machine, worker_id: int) -> Any:
    session["kiosk"] = {"m": machine.code, "w": worker_id, "t": kiosk_now().isoformat()}
    body = _signed_in(db, machine, worker_id)
    db.commit()
    return jsonify(body)


@api_bp.route("/<machine_code>/badge", methods=["POST"])
@KIOSK
def badge_in(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    try:
        badge = one(Text(max_length=200, required=True, hint=N_("the badge number")), "badge", json_body().get("badge"))
        worker = sign_in_badge(db, badge, kiosk_now(), machine.code)
    except SignInRefused:
        db.commit()  # the unknown badge is recorded for enrolment
        raise
    return _start(db, machine, worker.id)


@api_bp.route("/<machine_code>/pin", methods=["POST"])
@KIOSK
def pin_in(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    body = json_body()
    try:
        login = schema(worker_code=Text(max_length=64, required=True), pin=Text(max_length=64, required=True))
        entered = login.parse(body)
        worker = sign_in_pin(db, entered["worker_code"], entered["pin"], kiosk_now(), machine.code)
    except SignInRefused:
        db.commit()  # the failed try counts towards the lockout
        raise
    return _start(db, machine, worker.id)


@api_bp.route("/<machine_code>/poll")
@KIOSK
def poll(machine_code: str) -> Any:
    """A badge read by this machine's serial reader, if any (the page then posts it to /badge).

    For screens without an event stream (kiosk_events): the page listens to /events and polls this only when it
    cannot. Its answer must not carry the session cookie, or one that crosses a sign-in would put back the
    signed-out session (see web.cookies)."""
    g.session_read_only = True
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    badge = kiosk_state.take_badge(db, machine.code, kiosk_now())
    db.commit()
    return jsonify({"badge": badge})


@api_bp.route("/<machine_code>/state")
@KIOSK
def state(machine_code: str) -> Any:
    machine = active_machine_ref()  # read before the call with the rest of `kiosk_context`
    return jsonify(_signed_in(kiosk_read_work(), machine, signed_in_worker(machine)))  # prepared reads: no Session


@api_bp.route("/<machine_code>/logout", methods=["POST"])
@KIOSK
def logout(machine_code: str) -> Any:
    session.pop("kiosk", None)
    return jsonify({"signed_out": True})


@api_bp.route("/<machine_code>/dispense", methods=["POST"])
@KIOSK
def start_dispense(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    worker_id = signed_in_worker(machine)
    body = json_body()
    asked = DISPENSE.parse(body)
    quantity = asked["quantity"]
    codes = body.get("charge_codes") or {}
    if not isinstance(codes, dict):
        raise ValidationError.one("charge_codes", lazy_gettext('charge_codes must be an object like {"job": "J-100"}'))
    codes = {one(Text(max_length=16), "charge_codes", k): one(CHARGE_CODE, f"charge_codes.{k}", v)
             for k, v in codes.items()}  # fmt: skip
    for kind in codes:
        if kind not in charges.KINDS:
            raise DomainError(
                lazy_gettext(
                    "unknown charge code kind %(kind)s: use %(kinds)s",
                    kind=repr(str(kind)[:32]),
                    kinds=", ".join(charges.KINDS),
                ),
                field="charge_codes",
            )
    key = asked["request_key"] or uuid.uuid4().hex
    # its own short transaction (a double tap arriving twice at once returns the request that won); end the
    # page's transaction first: on SQLite it holds the write lock the request needs
    db.commit()
    result, known = authorise.request_in_own_transaction(
        app_services().session_factory,
        machine=machine,
        worker_id=worker_id,
        slot_code=asked["slot"],
        quantity=quantity,
        charge_codes={str(k): str(v) for k, v in codes.items()},
        request_key=key,
        now=kiosk_now(),
    )
    if result.status == "authorised":
        dispense_handoff.hand_over(app_services(), result.id, known)
    return jsonify({"dispense": _as_json(result)})


@api_bp.route("/<machine_code>/dispense/<int:dispense_id>")
@KIOSK
def dispense_status(machine_code: str, dispense_id: int) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    found = dispense.facts(db, dispense_id)
    if found.machine_id != machine.id:
        raise NotFound(
            lazy_gettext("dispense %(dispense_id)s is not on %(code)s", dispense_id=dispense_id, code=machine.code),
            field="dispense_id",
        )
    live = kiosk_state.phase_of(db, dispense_id) if found.view.status in dispense.IN_FLIGHT else None
    return jsonify({"dispense": _as_json(found.view, live)})


# What a worker reads when the hardware let a dispense down, by the fault the device reported (the stored detail,
# a note naming the fault and the hardware's detail, see vending.faults, is for the crib and stays on the staff pages).
FAULT_TEXT = {
    "door_already_open": lazy_gettext("The door was already open: close it and try again. Nothing was charged."),
    "door_not_opened": lazy_gettext("The door did not open. Nothing was charged: try again or ask the crib."),
    "door_left_open": lazy_gettext("The door was left open: please close it."),
    "interrupted": lazy_gettext("The machine restarted during your dispense. Nothing was taken or charged."),
    "device_offline": lazy_gettext("The machine is not answering. Nothing was charged: ask the crib."),
}
FAULT_FALLBACK = lazy_gettext("The machine could not hand out the item. Nothing was charged: the crib has been told.")


def _worker_detail(view: dispense.DispenseView) -> str:
    if view.status != dispense.FAILED:
        return notes.shown(view.detail)  # a refusal is stored in the kiosk's language; a sensed detail is a note
    return str(FAULT_TEXT.get(faults.code_of(view.detail), FAULT_FALLBACK))


def _as_json(view: dispense.DispenseView, live_phase: str | None = None) -> dict[str, Any]:
    return {
        "id": view.id,
        "status": view.status,
        "phase": live_phase or view.phase,
        "detail": _worker_detail(view),
        "slot": view.slot_code,
        "sku": view.sku,
        "name": view.item_name,
        "quantity": view.quantity,
        "taken": view.taken,
    }


@api_bp.route("/<machine_code>/request-item", methods=["POST"])
@KIOSK
def request_item(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    worker = get_worker(db, signed_in_worker(machine))
    text = one(Text(max_length=500, required=True, hint=N_("nitrile gloves size L")), "description",
               json_body().get("description"))  # fmt: skip
    site = db.get(Site, machine.site_id)
    publish(
        db,
        ItemRequested(
            occurred_at=kiosk_now(),
            site_code=site.code if site else "",
            machine=machine.code,
            worker=worker.worker_code,
            description=text,
        ),
    )
    db.commit()
    return jsonify({"requested": text})
