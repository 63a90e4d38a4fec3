"""The stock ledger: every movement once (idempotency key), on-hand per slot never negative, row-locked.

Each write locks the slot's stock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers
with BEGIN IMMEDIATE), checks the idempotency key under that lock, then moves on-hand and appends the
entry, and publishes StockLevelChanged in the same transaction. The hot path uses Core statements:
the ORM's per-object bookkeeping costs more than the SQL here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
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


_STOCK = SlotStock.__table__
_LEDGER = LedgerEntry.__table__


@dataclass(frozen=True, slots=True)
class Stock:
    slot_id: int
    on_hand: int
    reserved: int


def lock_stock(session: Session, slot_id: int) -> Stock:
    """Lock the slot's stock row for this transaction (FOR UPDATE; SQLite holds the write lock already)."""
    session.flush()  # ORM rows added by the caller must be visible to the Core statements below
    conn = session.connection()
    query = select(_STOCK.c.on_hand, _STOCK.c.reserved).where(_STOCK.c.slot_id == slot_id).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        if conn.execute(select(Slot.__table__.c.id).where(Slot.__table__.c.id == slot_id)).first() is None:
            raise NotFound(f"no slot with id {slot_id}", field="slot")
        conn.execute(insert(SlotStock).values(slot_id=slot_id, on_hand=0, reserved=0))
        row = conn.execute(query).one()
    return Stock(slot_id, int(row[0]), int(row[1]))


def _set_stock(session: Session, slot_id: int, on_hand: int, reserved: int) -> None:
    session.connection().execute(
        update(SlotStock).where(_STOCK.c.slot_id == slot_id).values(on_hand=on_hand, reserved=reserved)
    )


@dataclass(frozen=True, slots=True)
class SlotFacts:
    item_id: int | None
    site_id: int
    site_code: str
    sku: str


def slot_facts(session: Session, slot_id: int) -> SlotFacts:
    row = (
        session.connection()
        .execute(
            select(Slot.__table__.c.item_id, Machine.__table__.c.site_id, Site.__table__.c.code, Item.__table__.c.sku)
            .select_from(Slot.__table__)
            .join(Machine.__table__, Machine.__table__.c.id == Slot.__table__.c.machine_id)
            .join(Site.__table__, Site.__table__.c.id == Machine.__table__.c.site_id)
            .outerjoin(Item.__table__, Item.__table__.c.id == Slot.__table__.c.item_id)
            .where(Slot.__table__.c.id == slot_id)
        )
        .first()
    )
    if row is None:
        raise NotFound(f"no slot with id {slot_id}", field="slot")
    return SlotFacts(row[0], row[1], row[2], row[3] or "")


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
    conn = session.connection()
    existing = conn.execute(
        select(_LEDGER.c.id, _LEDGER.c.kind, _LEDGER.c.quantity, _LEDGER.c.on_hand_after, _LEDGER.c.flagged).where(
            _LEDGER.c.idempotency_key == key
        )
    ).first()
    if existing is not None:
        return Movement(existing[0], slot_id, existing[1], existing[2], existing[3], bool(existing[4]), True)
    if stock.on_hand + quantity < 0:
        raise OutOfStock(
            f"slot holds {stock.on_hand}, cannot take {-quantity}: count the slot or restock it", field="quantity"
        )
    facts = slot_facts(session, slot_id)
    if facts.item_id is None:
        raise DomainError("this slot has no item assigned: set the planogram first", field="slot")
    after = stock.on_hand + quantity
    _set_stock(session, slot_id, after, max(0, stock.reserved - release_reserved))
    result = conn.execute(
        insert(LedgerEntry).values(
            idempotency_key=key,
            at=at,
            slot_id=slot_id,
            item_id=facts.item_id,
            kind=kind,
            quantity=quantity,
            on_hand_after=after,
            worker_id=worker_id,
            dispense_id=dispense_id,
            charge_codes=json.dumps(charge_codes or {}, sort_keys=True),
            reason=reason,
            flagged=flagged,
            actor=actor,
        )
    )
    if quantity != 0:
        publish_level(session, facts, at)
    inserted = result.inserted_primary_key
    assert inserted is not None
    return Movement(int(inserted[0]), slot_id, kind, quantity, after, flagged, False)


def reserve(session: Session, slot_id: int, quantity: int) -> Stock:
    """Hold `quantity` for an authorised dispense so two kiosks cannot both promise the last item."""
    stock = lock_stock(session, slot_id)
    free = stock.on_hand - stock.reserved
    if free < quantity:
        raise OutOfStock(
            f"only {max(free, 0)} left in this slot" if free > 0 else "this slot is empty: choose another item",
            field="quantity",
        )
    _set_stock(session, slot_id, stock.on_hand, stock.reserved + quantity)
    return Stock(slot_id, stock.on_hand, stock.reserved + quantity)


def release(session: Session, slot_id: int, quantity: int) -> None:
    stock = lock_stock(session, slot_id)
    _set_stock(session, slot_id, stock.on_hand, max(0, stock.reserved - quantity))


_SITE_LEVEL = (
    select(
        func.coalesce(func.sum(SlotStock.__table__.c.on_hand), 0),
        func.coalesce(func.sum(Slot.__table__.c.min_level), 0),
        func.coalesce(func.sum(Slot.__table__.c.max_level), 0),
    )
    .select_from(Slot.__table__)
    .join(Machine.__table__, Machine.__table__.c.id == Slot.__table__.c.machine_id)
    .outerjoin(SlotStock.__table__, SlotStock.__table__.c.slot_id == Slot.__table__.c.id)
    .where(Slot.__table__.c.item_id == bindparam("item_id"), Machine.__table__.c.site_id == bindparam("site_id"))
)


def site_level(session: Session, site_id: int, item_id: int) -> tuple[int, int, int]:
    """On hand, min and max of an item summed over every slot of every machine at a site."""
    row = session.connection().execute(_SITE_LEVEL, {"item_id": item_id, "site_id": site_id}).one()
    return int(row[0]), int(row[1]), int(row[2])


def publish_level(session: Session, facts: SlotFacts, at: datetime) -> None:
    assert facts.item_id is not None
    on_hand, low, high = site_level(session, facts.site_id, facts.item_id)
    publish(
        session,
        StockLevelChanged(
            occurred_at=at,
            site_code=facts.site_code,
            sku=facts.sku,
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
