"""A worker's request at a machine: authorised or refused before any hardware moves, and recorded.

Checks, in order: quantity and slot state, item active, worker active, item-to-group restrictions,
charge codes, every applicable rule, and free stock (reserved by one conditional UPDATE under the row
lock). The request passes requested -> authorised|refused inside one transaction, so it is written once
with its outcome (the transitions table is still the authority: see `_outcome`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import Item, Site
from vending import charges, ledger, rules
from vending.dispense import TRANSITIONS, DispenseView, Facts, view
from vending.models import Dispense, GroupMember, ItemRestriction, Machine, Slot, Worker, WorkerGroup

_D, _S, _I, _W, _SITE = (
    Dispense.__table__.c,
    Slot.__table__.c,
    Item.__table__.c,
    Worker.__table__.c,
    Site.__table__.c,
)
_GM, _R = GroupMember.__table__.c, ItemRestriction.__table__.c
_ZONES: dict[str, ZoneInfo] = {}
_BY_KEY = select(_D.id).where(_D.request_key == bindparam("p_key"))
_SLOT = (
    select(
        _S.id,
        _S.code,
        _S.item_id,
        _S.capacity,
        _S.state,
        _I.sku,
        _I.name,
        _I.category,
        _I.active,
        _SITE.timezone,
        _S.device_ref,
        _S.unit_weight_g,
        _SITE.code,
    )
    .join_from(Slot.__table__, Item.__table__, _I.id == _S.item_id)
    .join(Site.__table__, _SITE.id == bindparam("p_site"))
    .where(_S.machine_id == bindparam("p_machine"), _S.code == bindparam("p_code"))
)
_WORKER = (
    select(_W.active, _GM.group_id, _W.worker_code)
    .outerjoin(GroupMember.__table__, _GM.worker_id == _W.id)
    .where(_W.id == bindparam("p_worker"))
)
_RESTRICTED = select(_R.group_id).where(_R.item_id == bindparam("p_item"))
_INSERT = insert(Dispense)


@dataclass(frozen=True, slots=True)
class SlotRow:
    id: int
    code: str
    item_id: int
    capacity: int
    state: str
    sku: str
    name: str
    category: str
    active: bool
    timezone: str
    device_ref: str
    unit_weight: float | None
    site_code: str


def zone(name: str) -> ZoneInfo:
    if name not in _ZONES:
        try:
            _ZONES[name] = ZoneInfo(name)
        except (KeyError, ValueError):
            _ZONES[name] = ZoneInfo("UTC")
    return _ZONES[name]


def _slot(session: Session, machine: Machine, slot_code: str) -> SlotRow:
    row = (
        session.connection()
        .execute(_SLOT, {"p_site": machine.site_id, "p_machine": machine.id, "p_code": slot_code})
        .first()
    )
    if row is None:
        raise NotFound(f"slot {slot_code!r} is not stocked on {machine.code}: pick an item from the grid", field="slot")
    return SlotRow(*row[:9], row[9] or "UTC", row[10] or row[1], row[11], row[12])


def request(
    session: Session,
    *,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> DispenseView:
    """Authorise or refuse a request and record it; nothing moves here. A repeated `request_key` is a no-op."""
    return request_for_run(
        session,
        machine=machine,
        worker_id=worker_id,
        slot_code=slot_code,
        quantity=quantity,
        charge_codes=charge_codes,
        request_key=request_key,
        now=now,
    )[0]


def request_for_run(
    session: Session,
    *,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> tuple[DispenseView, Facts | None]:
    """`request`, also returning the facts the runner needs when authorised (so it need not read them again)."""
    conn = session.connection()
    existing = conn.execute(_BY_KEY, {"p_key": request_key}).scalar()
    if existing is not None:
        return view(session, existing), None
    slot = _slot(session, machine, slot_code)
    codes: dict[str, str] = {}
    worker_code = ""
    try:
        codes, worker_code = authorise_checks(session, machine, slot, worker_id, quantity, charge_codes, now)
        ledger.reserve(session, slot.id, quantity)
        status, detail = _outcome("authorised"), ""
    except DomainError as refusal:
        status, detail = _outcome("refused"), refusal.message
    inserted = conn.execute(
        _INSERT,
        {
            "request_key": request_key,
            "machine_id": machine.id,
            "slot_id": slot.id,
            "worker_id": worker_id,
            "item_id": slot.item_id,
            "quantity": quantity,
            "taken": 0,
            "status": status,
            "phase": status,
            "detail": detail,
            "baseline": "{}",
            "charge_codes": json.dumps(codes, sort_keys=True),
            "created_at": now,
            "updated_at": now,
        },
    ).inserted_primary_key
    assert inserted is not None
    result = DispenseView(
        int(inserted[0]), status, status, detail, machine.code, slot.code, slot.sku, slot.name, quantity, 0, worker_id
    )
    if status != "authorised":
        return result, None
    return result, Facts(
        result,
        machine.id,
        machine.kind,
        machine.driver_config,
        slot.id,
        slot.device_ref,
        slot.unit_weight,
        json.dumps(codes, sort_keys=True),
        "{}",
        slot.site_code,
        worker_code,
        slot.item_id,
        machine.site_id,
    )


def _outcome(status: str) -> str:
    assert status in TRANSITIONS["requested"], f"requested cannot go to {status}"
    return status


def authorise_checks(
    session: Session,
    machine: Machine,
    slot: SlotRow,
    worker_id: int,
    quantity: int,
    given: dict[str, str],
    now: datetime,
) -> tuple[dict[str, str], str]:
    """Every check that must pass before hardware moves; raises a DomainError naming what to do.

    Returns the charge codes to record and the worker's code."""
    if quantity < 1 or quantity > slot.capacity:
        raise DomainError(f"quantity must be between 1 and {slot.capacity}", field="quantity")
    if slot.state != "ok":
        raise DomainError(f"slot {slot.code} is {slot.state}: choose another slot or call the crib", field="slot")
    if not slot.active:
        raise DomainError("this item is withdrawn from issue", field="slot")
    conn = session.connection()
    worker_rows = conn.execute(_WORKER, {"p_worker": worker_id}).all()
    if not worker_rows or not worker_rows[0][0]:
        raise DomainError("worker is not active", field="worker")
    groups = {row[1] for row in worker_rows if row[1] is not None}
    allowed = set(conn.execute(_RESTRICTED, {"p_item": slot.item_id}).scalars())
    if allowed and not allowed & groups:
        names = sorted(session.scalars(select(WorkerGroup.name).where(WorkerGroup.id.in_(allowed))))
        raise DomainError(f"{slot.name} is restricted to {', '.join(names)}", field="slot", code="restricted")
    codes = charges.validate(session, machine.site_id, given)
    refusal = rules.check(
        session,
        site_id=machine.site_id,
        worker_id=worker_id,
        groups=groups,
        item_id=slot.item_id,
        category=slot.category,
        quantity=quantity,
        now=now,
        tz=zone(slot.timezone),
    )
    if refusal is not None:
        raise DomainError(refusal.message, field="rule", code="rule_limit")
    return codes, str(worker_rows[0][2])
