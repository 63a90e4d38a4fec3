"""A worker's request at a machine: recorded, then authorised or refused before any hardware moves.

Checks, in order: quantity and slot state, item active, worker active, item-to-group restrictions,
charge codes, every applicable rule, and free stock (reserved under the slot's row lock).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import Item, Site
from vending import charges, ledger, rules
from vending.dispense import DispenseView, transition, view
from vending.models import Dispense, GroupMember, ItemRestriction, Machine, Slot, Worker, WorkerGroup

_D, _S, _I, _W = Dispense.__table__.c, Slot.__table__.c, Item.__table__.c, Worker.__table__.c
_ZONES: dict[str, ZoneInfo] = {}


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


def site_zone(session: Session, site_id: int) -> ZoneInfo:
    name = session.connection().execute(select(Site.__table__.c.timezone).where(Site.__table__.c.id == site_id))
    zone = name.scalar() or "UTC"
    if zone not in _ZONES:
        try:
            _ZONES[zone] = ZoneInfo(zone)
        except (KeyError, ValueError):
            _ZONES[zone] = ZoneInfo("UTC")
    return _ZONES[zone]


def _slot(session: Session, machine: Machine, slot_code: str) -> SlotRow:
    row = (
        session.connection()
        .execute(
            select(_S.id, _S.code, _S.item_id, _S.capacity, _S.state, _I.sku, _I.name, _I.category, _I.active)
            .join_from(Slot.__table__, Item.__table__, _I.id == _S.item_id)
            .where(_S.machine_id == machine.id, _S.code == slot_code)
        )
        .first()
    )
    if row is None:
        raise NotFound(f"slot {slot_code!r} is not stocked on {machine.code}: pick an item from the grid", field="slot")
    return SlotRow(*row)


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
    """Record a request and authorise or refuse it; nothing moves here. A repeated `request_key` is a no-op."""
    conn = session.connection()
    existing = conn.execute(select(_D.id).where(_D.request_key == request_key)).scalar()
    if existing is not None:
        return view(session, existing)
    slot = _slot(session, machine, slot_code)
    inserted = conn.execute(
        insert(Dispense).values(
            request_key=request_key,
            machine_id=machine.id,
            slot_id=slot.id,
            worker_id=worker_id,
            item_id=slot.item_id,
            quantity=quantity,
            taken=0,
            status="requested",
            phase="",
            detail="",
            baseline="{}",
            charge_codes="{}",
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    assert inserted is not None
    dispense_id = int(inserted[0])
    base = DispenseView(
        dispense_id, "requested", "", "", machine.code, slot.code, slot.sku, slot.name, quantity, 0, worker_id
    )
    try:
        codes = authorise_checks(session, machine, slot, worker_id, quantity, charge_codes, now)
        ledger.reserve(session, slot.id, quantity)
    except DomainError as refusal:
        transition(session, dispense_id, "refused", now, detail=refusal.message, phase="refused")
        return _with(base, "refused", refusal.message)
    transition(
        session, dispense_id, "authorised", now, phase="authorised", charge_codes=json.dumps(codes, sort_keys=True)
    )
    return _with(base, "authorised", "")


def _with(base: DispenseView, status: str, detail: str) -> DispenseView:
    return DispenseView(
        base.id,
        status,
        status,
        detail,
        base.machine_code,
        base.slot_code,
        base.sku,
        base.item_name,
        base.quantity,
        0,
        base.worker_id,
    )


def authorise_checks(
    session: Session,
    machine: Machine,
    slot: SlotRow,
    worker_id: int,
    quantity: int,
    given: dict[str, str],
    now: datetime,
) -> dict[str, str]:
    """Every check that must pass before hardware moves; raises a DomainError naming what to do."""
    if quantity < 1 or quantity > slot.capacity:
        raise DomainError(f"quantity must be between 1 and {slot.capacity}", field="quantity")
    if slot.state != "ok":
        raise DomainError(f"slot {slot.code} is {slot.state}: choose another slot or call the crib", field="slot")
    if not slot.active:
        raise DomainError("this item is withdrawn from issue", field="slot")
    conn = session.connection()
    if not conn.execute(select(_W.active).where(_W.id == worker_id)).scalar():
        raise DomainError("worker is not active", field="worker")
    groups = set(
        conn.execute(
            select(GroupMember.__table__.c.group_id).where(GroupMember.__table__.c.worker_id == worker_id)
        ).scalars()
    )
    allowed = set(
        conn.execute(
            select(ItemRestriction.__table__.c.group_id).where(ItemRestriction.__table__.c.item_id == slot.item_id)
        ).scalars()
    )
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
        tz=site_zone(session, machine.site_id),
    )
    if refusal is not None:
        raise DomainError(refusal.message, field="rule", code="rule_limit")
    return codes
