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

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.events import StockLevelChanged
from core.models import Item, Site
from core.outbox import publish
from core.prepared import FastWork, Prepared
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
_SLOT, _MACHINE, _SITE, _ITEM = Slot.__table__.c, Machine.__table__.c, Site.__table__.c, Item.__table__.c
# Built once with bind parameters: on the dispense path, building SQL expressions costs more than running them.
_LOCK = select(_STOCK.c.on_hand, _STOCK.c.reserved).where(_STOCK.c.slot_id == bindparam("p_slot")).with_for_update()
_SET = (
    update(SlotStock)
    .where(_STOCK.c.slot_id == bindparam("p_slot"))
    .values(on_hand=bindparam("p_on_hand"), reserved=bindparam("p_reserved"))
)
_RESERVE = (
    update(SlotStock)
    .where(_STOCK.c.slot_id == bindparam("p_slot"), _STOCK.c.on_hand - _STOCK.c.reserved >= bindparam("p_qty"))
    .values(reserved=_STOCK.c.reserved + bindparam("p_qty"))
)
_RELEASE = (
    update(SlotStock)
    .where(_STOCK.c.slot_id == bindparam("p_slot"))
    .values(reserved=case((_STOCK.c.reserved > bindparam("p_qty"), _STOCK.c.reserved - bindparam("p_qty")), else_=0))
)
_TAKE = (  # move on-hand and release the reservation in one statement; no row when the books hold too little
    update(SlotStock)
    .where(_STOCK.c.slot_id == bindparam("p_slot"), _STOCK.c.on_hand + bindparam("p_qty") >= 0)
    .values(
        on_hand=_STOCK.c.on_hand + bindparam("p_qty"),
        reserved=case((_STOCK.c.reserved > bindparam("p_rel"), _STOCK.c.reserved - bindparam("p_rel")), else_=0),
    )
    .returning(_STOCK.c.on_hand)
)
_BY_KEY = select(_LEDGER.c.id, _LEDGER.c.kind, _LEDGER.c.quantity, _LEDGER.c.on_hand_after, _LEDGER.c.flagged).where(
    _LEDGER.c.idempotency_key == bindparam("p_key")
)
_INSERT = insert(LedgerEntry)
_SLOT_FACTS = (
    select(_SLOT.item_id, _MACHINE.site_id, _SITE.code, _ITEM.sku)
    .select_from(Slot.__table__)
    .join(Machine.__table__, _MACHINE.id == _SLOT.machine_id)
    .join(Site.__table__, _SITE.id == _MACHINE.site_id)
    .outerjoin(Item.__table__, _ITEM.id == _SLOT.item_id)
    .where(_SLOT.id == bindparam("p_slot"))
)


@dataclass(frozen=True, slots=True)
class Stock:
    slot_id: int
    on_hand: int
    reserved: int


def lock_stock(session: Session, slot_id: int) -> Stock:
    """Lock the slot's stock row for this transaction (FOR UPDATE; SQLite holds the write lock already)."""
    if session.new or session.dirty:
        session.flush()  # ORM rows added by the caller must be visible to the Core statements below
    conn = session.connection()
    row = conn.execute(_LOCK, {"p_slot": slot_id}).first()
    if row is None:
        if conn.execute(select(_SLOT.id).where(_SLOT.id == slot_id)).first() is None:
            raise NotFound(f"no slot with id {slot_id}", field="slot")
        conn.execute(insert(SlotStock).values(slot_id=slot_id, on_hand=0, reserved=0))
        row = conn.execute(_LOCK, {"p_slot": slot_id}).one()
    return Stock(slot_id, int(row[0]), int(row[1]))


@dataclass(frozen=True, slots=True)
class SlotFacts:
    item_id: int | None
    site_id: int
    site_code: str
    sku: str


def slot_facts(session: Session, slot_id: int) -> SlotFacts:
    row = session.connection().execute(_SLOT_FACTS, {"p_slot": slot_id}).first()
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
    facts: SlotFacts | None = None,
    locked: Stock | None = None,
) -> Movement:
    """Append one movement of `quantity` (signed) to a slot; a repeated `key` changes nothing.

    `facts` and `locked` (the stock row this transaction already locked) save queries on the dispense path."""
    if kind not in KINDS:
        raise DomainError(f"ledger kind must be one of {', '.join(KINDS)}", field="kind")
    stock = locked or lock_stock(session, slot_id)
    conn = session.connection()
    existing = conn.execute(_BY_KEY, {"p_key": key}).first()
    if existing is not None:
        return Movement(existing[0], slot_id, existing[1], existing[2], existing[3], bool(existing[4]), True)
    if stock.on_hand + quantity < 0:
        raise OutOfStock(
            f"slot holds {stock.on_hand}, cannot take {-quantity}: count the slot or restock it", field="quantity"
        )
    facts = facts or slot_facts(session, slot_id)
    if facts.item_id is None:
        raise DomainError("this slot has no item assigned: set the planogram first", field="slot")
    after = stock.on_hand + quantity
    reserved = max(0, stock.reserved - release_reserved)
    conn.execute(_SET, {"p_slot": slot_id, "p_on_hand": after, "p_reserved": reserved})
    result = conn.execute(
        _INSERT,
        {
            "idempotency_key": key,
            "at": at,
            "slot_id": slot_id,
            "item_id": facts.item_id,
            "kind": kind,
            "quantity": quantity,
            "on_hand_after": after,
            "worker_id": worker_id,
            "dispense_id": dispense_id,
            "charge_codes": json.dumps(charge_codes or {}, sort_keys=True),
            "reason": reason,
            "flagged": flagged,
            "actor": actor,
        },
    )
    if quantity != 0:
        publish_level(session, facts, at)
    inserted = result.inserted_primary_key
    assert inserted is not None
    return Movement(int(inserted[0]), slot_id, kind, quantity, after, flagged, False)


_ENTRY = Prepared(
    insert(LedgerEntry).values(
        **{
            name: bindparam(f"p_{name}")
            for name in (
                "idempotency_key",
                "at",
                "slot_id",
                "item_id",
                "kind",
                "quantity",
                "on_hand_after",
                "worker_id",
                "dispense_id",
                "charge_codes",
                "reason",
                "actor",
            )
        },
        flagged=False,
    )
)
_TAKE_PREPARED = Prepared(_TAKE)


def post_fresh(
    work: FastWork,
    *,
    facts: SlotFacts,
    slot_id: int,
    kind: str,
    quantity: int,
    key: str,
    at: datetime,
    worker_id: int | None,
    dispense_id: int | None,
    charge_codes: str,
    reason: str,
    actor: str,
    release_reserved: int,
) -> int | None:
    """`post` inside a fast unit of work, for a caller that owns a key nobody can have used (the dispense whose
    compare-and-set transition just succeeded) and knows the slot's facts: one UPDATE ... RETURNING moves the
    stock under its row lock and one INSERT appends the entry; `charge_codes` is already JSON. The unique key
    still guards the table.

    Returns on-hand after the move, or None, having changed nothing, when the books hold too little (the
    caller takes the careful path, `post`, which records an adjustment first)."""
    cursor = work.execute(_TAKE_PREPARED, {"p_slot": slot_id, "p_qty": quantity, "p_rel": release_reserved})
    row = cursor.fetchone()
    cursor.close()
    if row is None:
        return None
    after = int(row[0])
    work.execute(
        _ENTRY,
        {
            "p_idempotency_key": key,
            "p_at": at,
            "p_slot_id": slot_id,
            "p_item_id": facts.item_id,
            "p_kind": kind,
            "p_quantity": quantity,
            "p_on_hand_after": after,
            "p_worker_id": worker_id,
            "p_dispense_id": dispense_id,
            "p_charge_codes": charge_codes,
            "p_reason": reason,
            "p_actor": actor,
        },
    ).close()
    return after


_RESERVE_P = Prepared(_RESERVE)
_LOCK_P = Prepared(_LOCK)
_NEW_STOCK_P = Prepared(insert(SlotStock).values(slot_id=bindparam("p_slot"), on_hand=0, reserved=0))


def reserve_fast(work: FastWork, slot_id: int, quantity: int) -> None:
    """`reserve` as prepared statements (the request path); a slot without a stock row gets an empty one."""
    if work.rowcount(_RESERVE_P, {"p_slot": slot_id, "p_qty": quantity}) == 1:
        return
    row = work.first(_LOCK_P, {"p_slot": slot_id})
    if row is None:
        work.execute(_NEW_STOCK_P, {"p_slot": slot_id}).close()
        row = (0, 0)
    free = int(row[0]) - int(row[1])
    raise OutOfStock(
        f"only {max(free, 0)} left in this slot" if free > 0 else "this slot is empty: choose another item",
        field="quantity",
    )


def reserve(session: Session, slot_id: int, quantity: int) -> None:
    """Hold `quantity` for an authorised dispense so two kiosks cannot both promise the last item.

    One conditional UPDATE: it takes the row lock and re-checks the free stock under it."""
    if session.connection().execute(_RESERVE, {"p_slot": slot_id, "p_qty": quantity}).rowcount == 1:
        return
    stock = lock_stock(session, slot_id)
    free = stock.on_hand - stock.reserved
    if free >= quantity:  # the stock row did not exist yet
        session.connection().execute(_RESERVE, {"p_slot": slot_id, "p_qty": quantity})
        return
    raise OutOfStock(
        f"only {max(free, 0)} left in this slot" if free > 0 else "this slot is empty: choose another item",
        field="quantity",
    )


def release(session: Session, slot_id: int, quantity: int) -> None:
    session.connection().execute(_RELEASE, {"p_slot": slot_id, "p_qty": quantity})


_RELEASE_PREPARED = Prepared(_RELEASE)


def release_fast(work: FastWork, slot_id: int, quantity: int) -> None:
    work.execute(_RELEASE_PREPARED, {"p_slot": slot_id, "p_qty": quantity}).close()


_SITE_LEVEL = (
    select(
        func.coalesce(func.sum(SlotStock.__table__.c.on_hand), 0),
        func.coalesce(func.sum(Slot.__table__.c.min_level), 0),
        func.coalesce(func.sum(Slot.__table__.c.max_level), 0),
    )
    .select_from(Slot.__table__)
    .join(Machine.__table__, Machine.__table__.c.id == Slot.__table__.c.machine_id)
    .outerjoin(SlotStock.__table__, SlotStock.__table__.c.slot_id == Slot.__table__.c.id)
    .where(Slot.__table__.c.item_id == bindparam("p_item"), Machine.__table__.c.site_id == bindparam("p_site"))
)


def site_level(session: Session, site_id: int, item_id: int) -> tuple[int, int, int]:
    """On hand, min and max of an item summed over every slot of every machine at a site."""
    row = session.connection().execute(_SITE_LEVEL, {"p_item": item_id, "p_site": site_id}).one()
    return int(row[0]), int(row[1]), int(row[2])


def publish_level(session: Session, facts: SlotFacts, at: datetime) -> None:
    publish(session, level_event(session, facts, at))


def level_event(session: Session, facts: SlotFacts, at: datetime) -> StockLevelChanged:
    """StockLevelChanged for the item at the slot's site, summed over every slot there."""
    assert facts.item_id is not None
    return _level_event(facts, at, *site_level(session, facts.site_id, facts.item_id))


_SITE_LEVEL_PREPARED = Prepared(_SITE_LEVEL)


def level_event_fast(work: FastWork, facts: SlotFacts, at: datetime) -> StockLevelChanged:
    row = work.first(_SITE_LEVEL_PREPARED, {"p_item": facts.item_id, "p_site": facts.site_id})
    assert row is not None  # an aggregate always returns its row
    return _level_event(facts, at, int(row[0]), int(row[1]), int(row[2]))


def _level_event(facts: SlotFacts, at: datetime, on_hand: int, low: int, high: int) -> StockLevelChanged:
    return StockLevelChanged(
        occurred_at=at,
        site_code=facts.site_code,
        sku=facts.sku,
        on_hand=on_hand,
        min_level=low,
        max_level=high,
        low=on_hand <= low,
    )


def on_hand(session: Session, slot_id: int) -> int:
    value = session.scalar(select(SlotStock.on_hand).where(SlotStock.slot_id == slot_id))
    return int(value or 0)


def recent(session: Session, limit: int = 100, slot_id: int | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
    if slot_id is not None:
        query = query.where(LedgerEntry.slot_id == slot_id)
    return list(session.scalars(query))
