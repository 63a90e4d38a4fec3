"""The stock ledger: every movement once (idempotency key), on-hand per slot never negative, row-locked.

Each write locks the slot's stock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers
with BEGIN IMMEDIATE), checks the idempotency key under that lock, then moves on-hand and appends the
entry, and publishes StockLevelChanged in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.events import StockLevelChanged
from core.models import Item, Site
from core.outbox import publish
from vending.models import LedgerEntry, Machine, Slot, SlotStock

KINDS = ("issue", "return", "restock", "adjust", "count")


class OutOfStock(Conflict):
    code = "out_of_stock"


@dataclass(frozen=True, slots=True)
class Movement:
    id: int
    slot_id: int
    kind: str
    quantity: int
    on_hand_after: int
    flagged: bool
    duplicate: bool  # the key had been used: nothing moved this time


def lock_stock(session: Session, slot_id: int) -> SlotStock:
    stock = session.scalar(
        select(SlotStock)
        .where(SlotStock.slot_id == slot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if stock is None:
        if session.get(Slot, slot_id) is None:
            raise NotFound(f"no slot with id {slot_id}", field="slot")
        stock = SlotStock(slot_id=slot_id, on_hand=0, reserved=0)
        session.add(stock)
        session.flush()
    return stock


def post(
    session: Session,
    *,
    slot_id: int,
    kind: str,
    quantity: int,
    key: str,
    at: datetime,
    worker_id: int | None = None,
    dispense_id: int | None = None,
    charge_codes: dict[str, str] | None = None,
    reason: str = "",
    flagged: bool = False,
    actor: str = "",
    release_reserved: int = 0,
) -> Movement:
    """Append one movement of `quantity` (signed) to a slot; a repeated `key` changes nothing."""
    if kind not in KINDS:
        raise DomainError(f"ledger kind must be one of {', '.join(KINDS)}", field="kind")
    stock = lock_stock(session, slot_id)
    existing = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if existing is not None:
        return Movement(
            existing.id,
            existing.slot_id,
            existing.kind,
            existing.quantity,
            existing.on_hand_after,
            existing.flagged,
            True,
        )
    if stock.on_hand + quantity < 0:
        raise OutOfStock(
            f"slot holds {stock.on_hand}, cannot take {-quantity}: count the slot or restock it", field="quantity"
        )
    slot = session.get(Slot, slot_id)
    assert slot is not None
    if slot.item_id is None:
        raise DomainError("this slot has no item assigned: set the planogram first", field="slot")
    stock.on_hand += quantity
    stock.reserved = max(0, stock.reserved - release_reserved)
    entry = LedgerEntry(
        idempotency_key=key,
        at=at,
        slot_id=slot_id,
        item_id=slot.item_id,
        kind=kind,
        quantity=quantity,
        on_hand_after=stock.on_hand,
        worker_id=worker_id,
        dispense_id=dispense_id,
        charge_codes=json.dumps(charge_codes or {}, sort_keys=True),
        reason=reason,
        flagged=flagged,
        actor=actor,
    )
    session.add(entry)
    session.flush()
    if quantity != 0:
        publish_level(session, slot, at)
    return Movement(entry.id, slot_id, kind, quantity, stock.on_hand, flagged, False)


def reserve(session: Session, slot_id: int, quantity: int) -> SlotStock:
    """Hold `quantity` for an authorised dispense so two kiosks cannot both promise the last item."""
    stock = lock_stock(session, slot_id)
    free = stock.on_hand - stock.reserved
    if free < quantity:
        raise OutOfStock(
            f"only {max(free, 0)} left in this slot" if free > 0 else "this slot is empty: choose another item",
            field="quantity",
        )
    stock.reserved += quantity
    return stock


def release(session: Session, slot_id: int, quantity: int) -> None:
    stock = lock_stock(session, slot_id)
    stock.reserved = max(0, stock.reserved - quantity)


def site_level(session: Session, site_id: int, item_id: int) -> tuple[int, int, int]:
    """On hand, min and max of an item summed over every slot of every machine at a site."""
    row = session.execute(
        select(
            func.coalesce(func.sum(SlotStock.on_hand), 0),
            func.coalesce(func.sum(Slot.min_level), 0),
            func.coalesce(func.sum(Slot.max_level), 0),
        )
        .select_from(Slot)
        .join(Machine, Machine.id == Slot.machine_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .where(Slot.item_id == item_id, Machine.site_id == site_id)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def publish_level(session: Session, slot: Slot, at: datetime) -> None:
    assert slot.item_id is not None
    machine = session.get(Machine, slot.machine_id)
    item = session.get(Item, slot.item_id)
    assert machine is not None and item is not None
    site = session.get(Site, machine.site_id)
    assert site is not None
    session.flush()
    on_hand, low, high = site_level(session, machine.site_id, item.id)
    publish(
        session,
        StockLevelChanged(
            occurred_at=at,
            site_code=site.code,
            sku=item.sku,
            on_hand=on_hand,
            min_level=low,
            max_level=high,
            low=on_hand <= low,
        ),
    )


def on_hand(session: Session, slot_id: int) -> int:
    value = session.scalar(select(SlotStock.on_hand).where(SlotStock.slot_id == slot_id))
    return int(value or 0)


def recent(session: Session, limit: int = 100, slot_id: int | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
    if slot_id is not None:
        query = query.where(LedgerEntry.slot_id == slot_id)
    return list(session.scalars(query))
