"""The kiosk's item grid in one prepared statement: each slot with its item, stock, picture etag and expired units.

The grid is read on every status call of every kiosk (a screen asks every few seconds), so it is one Core
statement compiled once (`core.prepared`) instead of three ORM queries (slots with items and stock, pictures,
expired lots); the caller gives the site's day (expiry dates are read as the site's days, vending.restock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.models import Item
from core.prepared import FastWork, Prepared
from vending.models import ItemPicture, Slot, SlotLot, SlotStock

slot_c, item_c, stock_c = Slot.__table__.c, Item.__table__.c, SlotStock.__table__.c
picture_c, lot_c = ItemPicture.__table__.c, SlotLot.__table__.c

_EXPIRED = (
    select(func.sum(lot_c.quantity))
    .where(lot_c.slot_id == slot_c.id, lot_c.quantity > 0, lot_c.expiry < bindparam("p_today"))
    .scalar_subquery()
    .label("expired")
)
_GRID = Prepared(
    select(
        slot_c.code.label("slot"),
        item_c.id.label("item_id"),
        item_c.sku,
        item_c.name,
        item_c.category,
        slot_c.state,
        stock_c.on_hand,
        stock_c.reserved,
        slot_c.capacity,
        picture_c.sha256,
        _EXPIRED,
    )
    .select_from(Slot.__table__)
    .join(Item.__table__, item_c.id == slot_c.item_id)
    .outerjoin(SlotStock.__table__, stock_c.slot_id == slot_c.id)
    .outerjoin(ItemPicture.__table__, picture_c.item_id == item_c.id)
    .where(slot_c.machine_id == bindparam("p_machine"))
    .order_by(slot_c.code)
)


@dataclass(frozen=True, slots=True)
class GridItem:
    """One tile of the kiosk: `stock` is what can be issued (on hand - reserved - expired, never below 0);
    `picture` the first 16 characters of its picture's sha256 (the etag in its URL), or None."""

    slot: str
    item_id: int
    sku: str
    name: str
    category: str
    state: str
    stock: int
    capacity: int
    picture: str | None


def grid(session: Session | FastWork, machine_id: int, today: date) -> list[GridItem]:
    """The machine's slots that hold an item, by slot code; `today` is the site's day (lots expire by it)."""
    rows = FastWork.of(session).all(_GRID, {"p_machine": machine_id, "p_today": today})
    return [
        GridItem(
            slot,
            item_id,
            sku,
            name,
            category,
            state,
            max(int(on or 0) - int(reserved or 0) - int(expired or 0), 0),  # expired units are not issued
            capacity,
            sha[:16] if sha is not None else None,
        )
        for slot, item_id, sku, name, category, state, on, reserved, capacity, sha, expired in rows
    ]
