"""The kiosk's floor calls: tools out and back (with the condition acknowledged) and restock mode (count, fill, scan).

Routes of the kiosk's API blueprint (vending.kiosk_api.api_bp), kept apart so each module stays small.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import jsonify
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.validation import Int, Text, one
from vending import restock, restock_scan, tools
from vending.kiosk_api import api_bp
from vending.kiosk_common import KIOSK, active_machine, json_body, kiosk_db, kiosk_now, local_time, signed_in_worker
from vending.models import Machine, Worker
from vending.workers import get_worker


@api_bp.route("/<machine_code>/tools/checkout", methods=["POST"])
@KIOSK
def tool_checkout(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    worker_id = signed_in_worker(machine)
    body = json_body()
    hours: int = one(Int(minimum=1, maximum=720, default=8), "hours", body.get("hours"))
    view = tools.checkout(
        db,
        one(Text(max_length=64, required=True), "serial", body.get("serial")),
        worker_id,
        kiosk_now() + timedelta(hours=hours),
        kiosk_now(),
        actor=f"kiosk:{machine.code}",
        machine=machine.code,
        charge_code=str(one(Text(max_length=64), "charge_code", body.get("charge_code")) or ""),
    )
    db.commit()
    due = local_time(view.due_at)
    return jsonify(
        {
            "tool": {
                "serial": view.serial,
                "status": view.status,
                "due_at": view.due_at.isoformat() if view.due_at else None,
            },
            "message": f"Checked out {view.serial}: bring it back by {due}.",
        }
    )


@api_bp.route("/<machine_code>/tools/return", methods=["POST"])
@KIOSK
def tool_return(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    worker = get_worker(db, signed_in_worker(machine))
    body = json_body()
    condition = str(body.get("condition", "ok"))[:16]
    serial = str(body.get("serial", ""))[:64]
    view = tools.return_tool(db, serial, condition, kiosk_now(), actor=f"kiosk:{machine.code}", machine=machine.code)
    db.commit()
    when = local_time(kiosk_now())
    message = {
        "ok": f"Returned {view.serial}. Thank you.",
        "damaged": f"Returned {view.serial} as damaged: reported for repair by {worker.worker_code} at {when}. "
        "Thank you for telling us; it will not be issued until it is repaired.",
        "lost": f"{view.serial} reported lost by {worker.worker_code} at {when}: the tool crib has been told.",
    }[condition]
    return jsonify(
        {
            "tool": {"serial": view.serial, "status": view.status, "condition": condition},
            "message": message,
            "report": condition != "ok",
        }
    )


def _whole(body: dict[str, Any], name: str) -> int:
    whole: int = one(Int(minimum=0, maximum=100_000, default=0), name, body.get(name))
    return whole


def _restocker(db: Session, machine: Machine) -> Worker:
    worker = get_worker(db, signed_in_worker(machine))
    if not worker.restocker:
        raise DomainError(
            lazy_gettext("restock mode is for restockers: ask the storeroom"),
            field="badge",
            code="not_restocker",
            status=422,
        )
    return worker


@api_bp.route("/<machine_code>/restock")
@KIOSK
def restock_list(machine_code: str) -> Any:
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    _restocker(db, machine)
    lines = restock.pick_list(db, machine.id, restock.site_today(db, machine.id, kiosk_now()))
    return jsonify(
        {
            "pick_list": [
                {
                    "slot": p.slot_code,
                    "name": p.item_name,
                    "on_hand": p.on_hand,
                    "max": p.max_level,
                    "to_pick": p.to_pick,
                    "expired": p.expired,
                }
                for p in lines
            ]
        }
    )


@api_bp.route("/<machine_code>/restock/<slot_code>", methods=["POST"])
@KIOSK
def restock_slot(machine_code: str, slot_code: str) -> Any:
    """Count what is in the slot (optional) and record what was added, as ledger entries."""
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    worker = _restocker(db, machine)
    body, key = json_body(), str(json_body().get("request_key") or uuid.uuid4().hex)[:100]
    result: dict[str, Any] = {"slot": slot_code}
    if body.get("counted") not in (None, ""):
        count = restock.record_count(
            db,
            machine.id,
            slot_code,
            _whole(body, "counted"),
            key=f"{key}:count",
            now=kiosk_now(),
            worker_id=worker.id,
            actor=f"kiosk:{machine.code}",
        )
        result.update(expected=count.expected, counted=count.counted, flagged=count.flagged)
    scan = one(Text(max_length=restock_scan.MAX_SCAN), "scan", body.get("scan"))
    if scan:  # a label scanned into the slot: checked against its item, the lot kept; "added" overrides the count
        filled = restock_scan.fill_by_scan(
            db, machine.id, slot_code, scan, _whole(body, "added") or None, key=f"{key}:scan", now=kiosk_now(),
            today=restock.site_today(db, machine.id, kiosk_now()), worker_id=worker.id, actor=f"kiosk:{machine.code}",
        )  # fmt: skip
        result.update(
            on_hand=filled.on_hand, added=filled.added, lot=filled.scanned.lot.lot if filled.scanned.lot else None
        )
    elif _whole(body, "added") > 0:
        result["on_hand"] = restock.record_fill(
            db,
            machine.id,
            slot_code,
            _whole(body, "added"),
            key=f"{key}:fill",
            now=kiosk_now(),
            worker_id=worker.id,
            actor=f"kiosk:{machine.code}",
        )
    db.commit()
    return jsonify(result)
