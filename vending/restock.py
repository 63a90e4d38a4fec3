"""Restock mode: a pick list per machine from slots below max, counts and fills recorded in the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError, NotFound
from core.models import Item
from vending import ledger
from vending.models import Machine, Slot, SlotStock

MAX_COUNT = 1_000_000  # more than any slot holds: a bigger figure is a typo (and would not fit the column)


@dataclass(frozen=True, slots=True)
class PickLine:
    slot_id: int
    slot_code: str
    sku: str
    item_name: str
    on_hand: int
    max_level: int
    to_pick: int
    state: str


@dataclass(frozen=True, slots=True)
class CountResult:
    slot_code: str
    expected: int
    counted: int
    difference: int
    flagged: bool


def pick_list(session: Session, machine_id: int) -> list[PickLine]:
    rows = session.execute(
        select(Slot, Item, SlotStock.on_hand)
        .join(Item, Item.id == Slot.item_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .where(Slot.machine_id == machine_id)
        .order_by(Slot.code)
    ).all()
    lines = []
    for slot, item, on_hand in rows:
        held = int(on_hand or 0)
        if held < slot.max_level:
            lines.append(
                PickLine(
                    slot.id, slot.code, item.sku, item.name, held, slot.max_level, slot.max_level - held, slot.state
                )
            )
    return lines


def _slot(session: Session, machine_id: int, slot_code: str) -> Slot:
    slot = session.scalar(select(Slot).where(Slot.machine_id == machine_id, Slot.code == slot_code))
    if slot is None:
        raise NotFound(f"no slot {slot_code!r} on this machine", field="slot")
    return slot


def record_count(
    session: Session,
    machine_id: int,
    slot_code: str,
    counted: int,
    *,
    key: str,
    now: datetime,
    worker_id: int | None = None,
    actor: str = "",
) -> CountResult:
    """A physical count: the ledger moves to the counted figure; a difference is flagged."""
    if counted < 0 or counted > MAX_COUNT:
        raise DomainError(f"a count is a whole number from 0 to {MAX_COUNT:,}", field="counted")
    slot = _slot(session, machine_id, slot_code)
    expected = ledger.lock_stock(session, slot.id).on_hand
    difference = counted - expected
    movement = ledger.post(
        session,
        slot_id=slot.id,
        kind="count",
        quantity=difference,
        key=key,
        at=now,
        worker_id=worker_id,
        reason=f"counted {counted}, expected {expected}",
        flagged=difference != 0,
        actor=actor,
    )
    if difference and not movement.duplicate:
        audit.record(
            session, actor or (f"worker:{worker_id}" if worker_id else "unknown"), "vending.count.difference",
            "vending_slot", slot.id, before={"on_hand": expected}, after={"on_hand": movement.on_hand_after},
            comment=f"slot {slot.code}: counted {counted}, expected {expected} (difference {difference:+d})",
        )
    return CountResult(slot.code, expected, movement.on_hand_after, difference, difference != 0)


def record_fill(
    session: Session,
    machine_id: int,
    slot_code: str,
    added: int,
    *,
    key: str,
    now: datetime,
    worker_id: int | None = None,
    actor: str = "",
) -> int:
    """Items put into a slot; refuses to overfill beyond capacity. Returns the new on-hand."""
    if added > MAX_COUNT:
        raise DomainError(f"the number added is at most {MAX_COUNT:,}", field="added")
    if added <= 0:
        raise DomainError("the number added must be 1 or more", field="added")
    slot = _slot(session, machine_id, slot_code)
    held = ledger.lock_stock(session, slot.id).on_hand
    if held + added > slot.capacity:
        raise DomainError(f"slot {slot.code} holds at most {slot.capacity}; it has {held}", field="added")
    movement = ledger.post(
        session,
        slot_id=slot.id,
        kind="restock",
        quantity=added,
        key=key,
        at=now,
        worker_id=worker_id,
        reason="restock",
        actor=actor,
    )
    if slot.state == "jammed":
        slot.state, slot.state_reason = "ok", ""  # the restocker has cleared and refilled the slot
    return movement.on_hand_after


def machine_id_for(session: Session, code: str) -> int:
    machine_id = session.scalar(select(Machine.id).where(Machine.code == code))
    if machine_id is None:
        raise NotFound(f"no machine {code!r}", field="machine")
    return machine_id
