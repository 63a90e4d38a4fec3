"""The dispense state machine (a transitions table) and its service functions; no hardware in here.

requested -> authorised -> commanded -> sensed -> completed, or refused (rules, stock, charge codes)
before anything moves, or failed (jam, no drop, door never opened, device offline) with no charge and
the slot flagged. Every step commits on its own so a crash is reconciled from the device (vending.runner).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError, InvalidTransition, NotFound
from core.events import ItemDispensed
from core.models import Item, Site
from core.outbox import publish
from vending import charges, ledger, rules
from vending.models import Dispense, ItemRestriction, Machine, Slot, Worker, WorkerGroup
from vending.workers import group_ids

TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"authorised", "refused"}),
    "authorised": frozenset({"commanded", "failed"}),
    "commanded": frozenset({"sensed", "failed"}),
    "sensed": frozenset({"completed"}),
    "completed": frozenset(),
    "refused": frozenset(),
    "failed": frozenset(),
}
IN_FLIGHT = ("authorised", "commanded", "sensed")


@dataclass(frozen=True, slots=True)
class DispenseView:
    id: int
    status: str
    phase: str
    detail: str
    machine_code: str
    slot_code: str
    sku: str
    item_name: str
    quantity: int
    taken: int
    worker_id: int


def _move(dispense: Dispense, target: str, now: datetime) -> None:
    allowed = TRANSITIONS[dispense.status]
    if target not in allowed:
        raise InvalidTransition(f"dispense {dispense.id}", dispense.status, target, allowed)
    dispense.status = target
    dispense.updated_at = now


def view(session: Session, dispense: Dispense) -> DispenseView:
    slot, item, machine = (
        session.get(Slot, dispense.slot_id),
        session.get(Item, dispense.item_id),
        session.get(Machine, dispense.machine_id),
    )
    assert slot is not None and item is not None and machine is not None
    return DispenseView(
        dispense.id,
        dispense.status,
        dispense.phase,
        dispense.detail,
        machine.code,
        slot.code,
        item.sku,
        item.name,
        dispense.quantity,
        dispense.taken,
        dispense.worker_id,
    )


def load(session: Session, dispense_id: int) -> Dispense:
    dispense = session.get(Dispense, dispense_id)
    if dispense is None:
        raise NotFound(f"no dispense with id {dispense_id}", field="dispense_id")
    return dispense


def site_zone(session: Session, site_id: int) -> ZoneInfo:
    site = session.get(Site, site_id)
    try:
        return ZoneInfo(site.timezone if site is not None else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


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
    existing = session.scalar(select(Dispense).where(Dispense.request_key == request_key))
    if existing is not None:
        return view(session, existing)
    slot = session.scalar(select(Slot).where(Slot.machine_id == machine.id, Slot.code == slot_code))
    if slot is None or slot.item_id is None:
        raise NotFound(f"slot {slot_code!r} is not stocked on {machine.code}: pick an item from the grid", field="slot")
    dispense = Dispense(
        request_key=request_key,
        machine_id=machine.id,
        slot_id=slot.id,
        worker_id=worker_id,
        item_id=slot.item_id,
        quantity=quantity,
        status="requested",
        created_at=now,
        updated_at=now,
        charge_codes="{}",
    )
    session.add(dispense)
    session.flush()
    try:
        codes = authorise_checks(session, machine, slot, worker_id, quantity, charge_codes, now)
        ledger.reserve(session, slot.id, quantity)
    except DomainError as refusal:
        dispense.detail = refusal.message
        _move(dispense, "refused", now)
        return view(session, dispense)
    dispense.charge_codes = json.dumps(codes, sort_keys=True)
    _move(dispense, "authorised", now)
    dispense.phase = "authorised"
    return view(session, dispense)


def authorise_checks(
    session: Session, machine: Machine, slot: Slot, worker_id: int, quantity: int, given: dict[str, str], now: datetime
) -> dict[str, str]:
    """Every check that must pass before hardware moves; raises a DomainError naming what to do."""
    if quantity < 1 or quantity > slot.capacity:
        raise DomainError(f"quantity must be between 1 and {slot.capacity}", field="quantity")
    if slot.state != "ok":
        raise DomainError(f"slot {slot.code} is {slot.state}: choose another slot or call the crib", field="slot")
    item = session.get(Item, slot.item_id)
    if item is None or not item.active:
        raise DomainError("this item is withdrawn from issue", field="slot")
    worker = session.get(Worker, worker_id)
    if worker is None or not worker.active:
        raise DomainError("worker is not active", field="worker")
    groups = group_ids(session, worker_id)
    allowed_groups = set(session.scalars(select(ItemRestriction.group_id).where(ItemRestriction.item_id == item.id)))
    if allowed_groups and not allowed_groups & groups:
        names = sorted(session.scalars(select(WorkerGroup.name).where(WorkerGroup.id.in_(allowed_groups))))
        raise DomainError(f"{item.name} is restricted to {', '.join(names)}", field="slot", code="restricted")
    codes = charges.validate(session, machine.site_id, given)
    refusal = rules.check(
        session,
        site_id=machine.site_id,
        worker_id=worker_id,
        groups=groups,
        item_id=item.id,
        category=item.category,
        quantity=quantity,
        now=now,
        tz=site_zone(session, machine.site_id),
    )
    if refusal is not None:
        raise DomainError(refusal.message, field="rule", code="rule_limit")
    return codes


def mark_commanded(session: Session, dispense_id: int, baseline: dict[str, object], now: datetime) -> Dispense:
    dispense = load(session, dispense_id)
    _move(dispense, "commanded", now)
    dispense.baseline = json.dumps(baseline, sort_keys=True)
    return dispense


def set_phase(session: Session, dispense_id: int, phase: str, now: datetime) -> None:
    dispense = load(session, dispense_id)
    dispense.phase, dispense.updated_at = phase, now


def record_sensed(session: Session, dispense_id: int, taken: int, detail: str, now: datetime) -> Dispense:
    dispense = load(session, dispense_id)
    _move(dispense, "sensed", now)
    dispense.taken, dispense.detail, dispense.phase = taken, detail, "sensed"
    return dispense


def complete(session: Session, dispense_id: int, now: datetime, flag: str = "") -> DispenseView:
    """Charge exactly what was sensed: an issue for a take, a return for a negative count."""
    dispense = load(session, dispense_id)
    _move(dispense, "completed", now)
    dispense.phase = "completed"
    slot = session.get(Slot, dispense.slot_id)
    assert slot is not None
    codes = json.loads(dispense.charge_codes)
    taken = dispense.taken
    if taken > 0:
        stock = ledger.lock_stock(session, slot.id)
        if stock.on_hand < taken:  # the shelf held more than the books said: record that before the issue
            ledger.post(
                session,
                slot_id=slot.id,
                kind="adjust",
                quantity=taken - stock.on_hand,
                key=f"dispense:{dispense.id}:adj",
                at=now,
                reason=f"weight showed {taken} taken but only {stock.on_hand} on the books",
                flagged=True,
                actor="system:dispense",
            )
    if taken != 0:
        ledger.post(
            session,
            slot_id=slot.id,
            kind="issue" if taken > 0 else "return",
            quantity=-taken,
            key=f"dispense:{dispense.id}",
            at=now,
            worker_id=dispense.worker_id,
            dispense_id=dispense.id,
            charge_codes=codes,
            reason=dispense.detail,
            actor="system:dispense",
            release_reserved=dispense.quantity,
        )
        _publish_dispensed(session, dispense, slot, codes, now)
    else:
        ledger.release(session, slot.id, dispense.quantity)
    if flag:
        slot.state, slot.state_reason = "jammed", flag
    return view(session, dispense)


def _publish_dispensed(session: Session, dispense: Dispense, slot: Slot, codes: dict[str, str], now: datetime) -> None:
    machine = session.get(Machine, dispense.machine_id)
    item = session.get(Item, dispense.item_id)
    worker = session.get(Worker, dispense.worker_id)
    assert machine is not None and item is not None and worker is not None
    site = session.get(Site, machine.site_id)
    assert site is not None
    publish(
        session,
        ItemDispensed(
            occurred_at=now,
            site_code=site.code,
            sku=item.sku,
            quantity=dispense.taken,
            worker=worker.worker_code,
            machine=machine.code,
            slot=slot.code,
            charge_codes=codes,
        ),
    )


def fail(session: Session, dispense_id: int, reason: str, now: datetime, flag_slot: bool = True) -> DispenseView:
    """No charge; the reservation is released and (by default) the slot is flagged for the crib."""
    dispense = load(session, dispense_id)
    _move(dispense, "failed", now)
    dispense.detail, dispense.phase, dispense.taken = reason, "failed", 0
    ledger.release(session, dispense.slot_id, dispense.quantity)
    if flag_slot:
        slot = session.get(Slot, dispense.slot_id)
        assert slot is not None
        slot.state, slot.state_reason = "jammed", reason
    return view(session, dispense)


def in_flight(session: Session, machine_id: int | None = None) -> list[int]:
    query = select(Dispense.id).where(Dispense.status.in_(IN_FLIGHT)).order_by(Dispense.id)
    if machine_id is not None:
        query = query.where(Dispense.machine_id == machine_id)
    return list(session.scalars(query))


def clear_slot_flag(session: Session, slot_id: int) -> None:
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(f"no slot with id {slot_id}", field="slot")
    slot.state, slot.state_reason = "ok", ""
