"""The stock ledger: every movement once (idempotency key), on-hand per slot never negative, row-locked.

One path per operation, each taking a Session or a fast unit of work (`core.prepared.FastWork.of`) and
running statements compiled once: `post` appends a movement (a repeated key changes nothing), `reserve`
and `release` hold and free stock for an authorised dispense, `level_event` sums an item's stock at a site.
`post` locks the slot's stock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with
BEGIN IMMEDIATE) and checks the key under that lock, unless the caller owns the key (a dispense whose
compare-and-set just succeeded); then one UPDATE ... RETURNING moves on-hand and releases the reservation,
one INSERT appends the entry, `vending.lots.follow` moves the slot's lots (a take from a slot without lots:
one indexed SELECT), and StockLevelChanged is published in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.events import Event, StockLevelChanged
from core.models import Item, Site
from core.outbox import publish
from core.prepared import FastWork, Pending, Prepared, Row
from core.states import shown_as_labels
from vending import lots
from vending.lots import LotRef
from vending.models import LedgerEntry, Machine, Slot, SlotStock

KINDS = ("issue", "return", "restock", "adjust", "count", "pull")  # pull: expired units taken out by the crib
shown_as_labels({**{kind: kind.capitalize() for kind in KINDS}, "pull": "Expired, pulled"})


class OutOfStock(Conflict):
    code = "out_of_stock"

    def __init__(self, message: str, field: str | None = None, on_hand: int = 0) -> None:
        super().__init__(message, field=field)
        self.on_hand = on_hand  # what the books hold: a dispense that sensed more records the difference


@dataclass(frozen=True, slots=True)
class Movement:
    id: int
    slot_id: int
    kind: str
    quantity: int
    on_hand_after: int
    flagged: bool
    duplicate: bool  # the key had been used: nothing moved this time


@dataclass(frozen=True, slots=True)
class Stock:
    slot_id: int
    on_hand: int
    reserved: int


@dataclass(frozen=True, slots=True)
class SlotFacts:
    item_id: int | None
    site_id: int
    site_code: str
    sku: str


stock_table, ledger_table = SlotStock.__table__, LedgerEntry.__table__
slots, machines, sites, items = Slot.__table__.c, Machine.__table__.c, Site.__table__.c, Item.__table__.c
stock = stock_table.c

_LOCK = Prepared(select(stock.on_hand, stock.reserved).where(stock.slot_id == bindparam("p_slot")).with_for_update())
_SLOT_EXISTS = Prepared(select(slots.id).where(slots.id == bindparam("p_slot")))
_NEW_STOCK = Prepared(insert(SlotStock).values(slot_id=bindparam("p_slot"), on_hand=0, reserved=0))
_RESERVE = Prepared(
    update(SlotStock)
    .where(stock.slot_id == bindparam("p_slot"), stock.on_hand - stock.reserved >= bindparam("p_qty"))
    .values(reserved=stock.reserved + bindparam("p_qty"))
)
_RELEASE = Prepared(
    update(SlotStock)
    .where(stock.slot_id == bindparam("p_slot"))
    .values(reserved=case((stock.reserved > bindparam("p_qty"), stock.reserved - bindparam("p_qty")), else_=0))
)
_MOVE = Prepared(  # move on-hand and release the reservation in one statement; no row when the books hold too little
    update(SlotStock)
    .where(stock.slot_id == bindparam("p_slot"), stock.on_hand + bindparam("p_qty") >= 0)
    .values(
        on_hand=stock.on_hand + bindparam("p_qty"),
        reserved=case((stock.reserved > bindparam("p_rel"), stock.reserved - bindparam("p_rel")), else_=0),
    )
    .returning(stock.on_hand)
)
_BY_KEY = Prepared(
    select(
        ledger_table.c.id, ledger_table.c.kind, ledger_table.c.quantity, ledger_table.c.on_hand_after,
        ledger_table.c.flagged,
    ).where(ledger_table.c.idempotency_key == bindparam("p_key"))
)  # fmt: skip
_ENTRY_COLUMNS = ("idempotency_key", "at", "slot_id", "item_id", "kind", "quantity", "on_hand_after", "worker_id",
                  "dispense_id", "charge_codes", "reason", "flagged", "actor")  # fmt: skip
_ENTRY_MOVING = Prepared(  # the entry, only if the books hold enough; its on_hand_after read under the row's lock
    insert(LedgerEntry)
    .from_select(
        _ENTRY_COLUMNS,
        select(
            *(
                (stock.on_hand + bindparam("quantity")).label(name)
                if name == "on_hand_after"
                else bindparam(name, type_=ledger_table.c[name].type).label(name)
                for name in _ENTRY_COLUMNS
            )
        )
        .where(stock.slot_id == bindparam("slot_id"), stock.on_hand + bindparam("quantity") >= 0)
        .with_for_update(),
    )
    .returning(ledger_table.c.id, ledger_table.c.on_hand_after)
)
_SLOT_FACTS = Prepared(
    select(slots.item_id, machines.site_id, sites.code.label("site_code"), items.sku)
    .select_from(Slot.__table__)
    .join(Machine.__table__, machines.id == slots.machine_id)
    .join(Site.__table__, sites.id == machines.site_id)
    .outerjoin(Item.__table__, items.id == slots.item_id)
    .where(slots.id == bindparam("p_slot"))
)
_SITE_LEVEL = Prepared(
    select(
        func.coalesce(func.sum(stock.on_hand), 0).label("on_hand"),
        func.coalesce(func.sum(slots.min_level), 0).label("min_level"),
        func.coalesce(func.sum(slots.max_level), 0).label("max_level"),
    )
    .select_from(Slot.__table__)
    .join(Machine.__table__, machines.id == slots.machine_id)
    .outerjoin(stock_table, stock.slot_id == slots.id)
    .where(slots.item_id == bindparam("p_item"), machines.site_id == bindparam("p_site"))
)


def lock_stock(session: Session | FastWork, slot_id: int) -> Stock:
    """Lock the slot's stock row for this transaction (FOR UPDATE; SQLite holds the write lock already); a slot
    without one gets an empty row."""
    work = FastWork.of(session)
    row = work.mapping(_LOCK, {"p_slot": slot_id})
    if row is None:
        if work.first(_SLOT_EXISTS, {"p_slot": slot_id}) is None:
            raise NotFound(lazy_gettext("no slot with id %(slot_id)s", slot_id=slot_id), field="slot")
        work.execute(_NEW_STOCK, {"p_slot": slot_id}).close()
        return Stock(slot_id, 0, 0)
    return Stock(slot_id, int(row["on_hand"]), int(row["reserved"]))


def slot_facts(session: Session | FastWork, slot_id: int) -> SlotFacts:
    row = FastWork.of(session).mapping(_SLOT_FACTS, {"p_slot": slot_id})
    if row is None:
        raise NotFound(lazy_gettext("no slot with id %(slot_id)s", slot_id=slot_id), field="slot")
    return SlotFacts(row["item_id"], row["site_id"], row["site_code"], row["sku"] or "")


def post(
    session: Session | FastWork,
    *,
    slot_id: int,
    kind: str,
    quantity: int,
    key: str,
    at: datetime,
    worker_id: int | None = None,
    dispense_id: int | None = None,
    charge_codes: dict[str, str] | str | None = None,
    reason: str = "",
    flagged: bool = False,
    actor: str = "",
    release_reserved: int = 0,
    facts: SlotFacts | None = None,
    key_is_ours: bool = False,
    also_publish: Sequence[Event] = (),
    lot: LotRef | None = None,
) -> Movement:
    """Append one movement of `quantity` (signed) to a slot; a repeated `key` changes nothing.

    `facts` saves a read when the caller knows the slot; `key_is_ours` skips the lock and key lookup for a caller
    that owns a key nobody can have used (the unique key still guards the table); `charge_codes` may be JSON
    already; `also_publish`: the caller's events, written with the stock level in one INSERT; `lot`: the lot put in
    or taken out (a take without one consumes the slot's lots first-expiry-first-out, see `vending.lots`)."""
    if kind not in KINDS:
        raise DomainError(lazy_gettext("ledger kind must be one of %(kinds)s", kinds=", ".join(KINDS)), field="kind")
    work = FastWork.of(session)
    if not key_is_ours:
        lock_stock(work, slot_id)  # the key check below is serialised per slot by this lock
        existing = work.mapping(_BY_KEY, {"p_key": key})
        if existing is not None:
            return Movement(
                existing["id"], slot_id, existing["kind"], existing["quantity"], existing["on_hand_after"],
                bool(existing["flagged"]), True,
            )  # fmt: skip
    facts = facts or slot_facts(work, slot_id)
    if facts.item_id is None:
        raise DomainError(lazy_gettext("this slot has no item assigned: set the planogram first"), field="slot")
    codes = charge_codes if isinstance(charge_codes, str) else json.dumps(charge_codes or {}, sort_keys=True)
    values = {
        "idempotency_key": key, "at": at, "slot_id": slot_id, "item_id": facts.item_id, "kind": kind,
        "quantity": quantity, "on_hand_after": 0, "worker_id": worker_id, "dispense_id": dispense_id,
        "charge_codes": codes, "reason": reason, "flagged": flagged, "actor": actor,
    }  # fmt: skip
    # Sent together (one round trip in pipeline mode): the entry (locking the stock row), the move under that
    # lock (same condition, so both happen or neither), the slot's lots and the site's level after the move.
    entry_sent = work.send(_ENTRY_MOVING, values)
    moved_sent = work.send(_MOVE, {"p_slot": slot_id, "p_qty": quantity, "p_rel": release_reserved})
    held = lots.send_held(work, slot_id) if lot is None and quantity < 0 else None
    level = _send_level(work, facts) if quantity != 0 else None
    entry, moved = entry_sent.first(), moved_sent.first()
    if entry is None or moved is None:
        for sent in (held, level):
            if sent is not None:
                sent.discard()
        entry = _short_or_new_row(work, slot_id, quantity, release_reserved, values)
        held = None
        level = _send_level(work, facts) if quantity != 0 else None
    entry_id, after = int(entry[0]), int(entry[1])
    if lot is not None or quantity < 0:
        lots.follow(work, slot_id, entry_id, quantity, after, at, lot, held_rows=held)
    publish(work, *([_level_event(facts, at, level)] if level is not None else []), *also_publish)
    return Movement(entry_id, slot_id, kind, quantity, after, flagged, False)


def _short_or_new_row(
    work: FastWork, slot_id: int, quantity: int, release_reserved: int, values: dict[str, Any]
) -> Row:
    """The move found no stock row it could move: a slot without one gets an empty one (and the move is tried
    again); a slot holding too little raises OutOfStock with what it holds."""
    held = lock_stock(work, slot_id).on_hand
    if held + quantity >= 0:  # the slot had no stock row: it has an empty one now
        entry = work.first(_ENTRY_MOVING, values)
        moved = work.first(_MOVE, {"p_slot": slot_id, "p_qty": quantity, "p_rel": release_reserved})
        if entry is not None and moved is not None:
            return entry
    raise OutOfStock(
        lazy_gettext(
            "slot holds %(held)s, cannot take %(quantity)s: count the slot or restock it", held=held, quantity=-quantity
        ),
        "quantity",
        on_hand=held,
    )


def reserve(session: Session | FastWork, slot_id: int, quantity: int) -> None:
    """Hold `quantity` for an authorised dispense so two kiosks cannot both promise the last item.

    One conditional UPDATE: it takes the row lock and re-checks the free stock under it."""
    work = FastWork.of(session)
    check_reserved(work, send_reserve(work, slot_id, quantity), slot_id)


def send_reserve(work: FastWork, slot_id: int, quantity: int) -> Pending:
    """`reserve`'s UPDATE, sent now; `check_reserved` reads whether it held the stock (raising if not)."""
    return work.send(_RESERVE, {"p_slot": slot_id, "p_qty": quantity})


def check_reserved(work: FastWork, reservation: Pending, slot_id: int) -> None:
    if reservation.rowcount() == 1:
        return
    held = lock_stock(work, slot_id)  # a slot without a stock row gets an empty one
    free = held.on_hand - held.reserved
    raise OutOfStock(
        lazy_gettext("only %(free)s left in this slot", free=free)
        if free > 0
        else lazy_gettext("this slot is empty: choose another item"),
        field="quantity",
        on_hand=held.on_hand,
    )


def release(session: Session | FastWork, slot_id: int, quantity: int) -> None:
    FastWork.of(session).execute(_RELEASE, {"p_slot": slot_id, "p_qty": quantity}).close()


def site_level(session: Session | FastWork, site_id: int, item_id: int) -> tuple[int, int, int]:
    """On hand, min and max of an item summed over every slot of every machine at a site."""
    row = FastWork.of(session).mapping(_SITE_LEVEL, {"p_item": item_id, "p_site": site_id})
    assert row is not None  # an aggregate always returns its row
    return int(row["on_hand"]), int(row["min_level"]), int(row["max_level"])


def level_event(session: Session | FastWork, facts: SlotFacts, at: datetime) -> StockLevelChanged:
    """StockLevelChanged for the item at the slot's site, summed over every slot there."""
    return _level_event(facts, at, _send_level(FastWork.of(session), facts))


def _send_level(work: FastWork, facts: SlotFacts) -> Pending:
    assert facts.item_id is not None
    return work.send(_SITE_LEVEL, {"p_item": facts.item_id, "p_site": facts.site_id})


def _level_event(facts: SlotFacts, at: datetime, level: Pending) -> StockLevelChanged:
    row = level.mapping()
    assert row is not None  # an aggregate always returns its row
    on_hand, low, high = int(row["on_hand"]), int(row["min_level"]), int(row["max_level"])
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
