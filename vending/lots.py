"""Stock lots in slots: batch and expiry kept in step with the ledger, takes first-expiry-first-out, expired blocked.

A restock scanned from a GS1 label puts its units into a lot of the slot (`vending_slot_lot`); every movement
that touches lots writes which lot(s) and how many (`vending_ledger_lot`). `follow` is called by
`vending.ledger.post` after on-hand moved, under the slot's row lock: a movement that names a lot puts into
or takes from that lot; any other take consumes lots in this order: unexpired lots earliest expiry first
(lots without a date after dated ones), then the slot's untracked units (on hand beyond the sum of its lots),
then expired lots (a scale shelf may sense more taken than was asked). A slot without lots costs one indexed
SELECT on a take and nothing on a put. Expired means the expiry date is before today at the site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext
from sqlalchemy import ScalarSelect, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.errors import DomainError
from core.models import Item
from core.notes import N_, Note
from core.prepared import FastWork, Pending, Prepared
from vending.models import LedgerLot, Slot, SlotLot, SlotStock

lots_table, moved_table = SlotLot.__table__, LedgerLot.__table__
lot_c, moved_c, stock_c = lots_table.c, moved_table.c, SlotStock.__table__.c
MAX_LOT_LENGTH = 20  # GS1 AI (10) holds at most 20 characters


@dataclass(frozen=True, slots=True)
class LotRef:
    """A lot as a label names it: the batch (may be "") and the expiry date (may be unknown)."""

    lot: str = ""
    expiry: date | None = None

    def describe(self) -> str:
        return self.note().english()

    def note(self) -> Note:
        """The lot as a stored note ("lot ABC123, expiry 2027-06-30"), shown in the reader's language."""
        expiry = self.expiry
        if self.lot:
            if expiry:
                return Note.of(N_("lot %(batch)s, expiry %(expiry)s"), batch=self.lot, expiry=expiry)
            return Note.of(N_("lot %(batch)s"), batch=self.lot)
        if expiry:
            return Note.of(N_("lot without a batch number, expiry %(expiry)s"), expiry=expiry)
        return Note.of(N_("lot without a batch number"))


@dataclass(frozen=True, slots=True)
class HeldLot:
    id: int
    slot_id: int
    lot: str
    expiry: date | None
    quantity: int

    def expired(self, today: date) -> bool:
        return self.expiry is not None and self.expiry < today


_HELD_ORDER = (case((lot_c.expiry.is_(None), 1), else_=0), lot_c.expiry, lot_c.id)
_HELD = Prepared(  # the one statement a take from a slot without lots costs
    select(lot_c.id, lot_c.lot, lot_c.expiry, lot_c.quantity)
    .where(lot_c.slot_id == bindparam("p_slot"), lot_c.quantity > 0)
    .order_by(*_HELD_ORDER)
)
_FIND_DATED = Prepared(
    select(lot_c.id, lot_c.quantity).where(
        lot_c.slot_id == bindparam("p_slot"), lot_c.lot == bindparam("p_lot"), lot_c.expiry == bindparam("p_expiry")
    )
)
_FIND_UNDATED = Prepared(
    select(lot_c.id, lot_c.quantity).where(
        lot_c.slot_id == bindparam("p_slot"), lot_c.lot == bindparam("p_lot"), lot_c.expiry.is_(None)
    )
)
_NEW = Prepared(
    insert(SlotLot)
    .values(slot_id=bindparam("p_slot"), lot=bindparam("p_lot"), expiry=bindparam("p_expiry"),
            quantity=bindparam("p_qty"), first_in=bindparam("p_at"))
    .returning(lot_c.id)
)  # fmt: skip
_ADD = Prepared(
    update(SlotLot).where(lot_c.id == bindparam("p_id")).values(quantity=lot_c.quantity + bindparam("p_qty"))
)
_MOVED = Prepared(
    insert(LedgerLot).values(
        ledger_id=bindparam("p_ledger"), slot_lot_id=bindparam("p_lot"), quantity=bindparam("p_qty")
    )
)
_STOCK = Prepared(select(stock_c.on_hand, stock_c.reserved).where(stock_c.slot_id == bindparam("p_slot")))


def send_held(work: FastWork, slot_id: int) -> Pending:
    """The slot's held lots (what a take without a named lot reads), sent now and read by `follow(held=...)`."""
    return work.send(_HELD, {"p_slot": slot_id})


def follow(
    work: FastWork,
    slot_id: int,
    ledger_id: int,
    quantity: int,
    on_hand_after: int,
    at: datetime,
    lot: LotRef | None,
    held_rows: Pending | None = None,
) -> None:
    """Move the slot's lots with a ledger movement of `quantity` that left `on_hand_after` (see the module);
    `held_rows`: the slot's held lots already sent (`send_held`), for a take without a named lot."""
    if lot is not None:
        _named(work, slot_id, ledger_id, quantity, at, lot)
    elif quantity < 0:
        rows = (held_rows or send_held(work, slot_id)).all()
        held = [HeldLot(r[0], slot_id, r[1], r[2], int(r[3])) for r in rows]
        if held:
            _fefo(work, ledger_id, held, -quantity, on_hand_after - quantity, at.date())


def _named(work: FastWork, slot_id: int, ledger_id: int, quantity: int, at: datetime, lot: LotRef) -> None:
    if len(lot.lot) > MAX_LOT_LENGTH:
        raise DomainError(
            lazy_gettext("a lot number has at most %(max_lot_length)s characters", max_lot_length=MAX_LOT_LENGTH),
            field="lot",
        )
    if lot.expiry is None:
        found = work.mapping(_FIND_UNDATED, {"p_slot": slot_id, "p_lot": lot.lot})
    else:
        found = work.mapping(_FIND_DATED, {"p_slot": slot_id, "p_lot": lot.lot, "p_expiry": lot.expiry})
    if found is None:
        if quantity < 0:
            raise DomainError(lazy_gettext("this slot holds no %(describe)s", describe=lot.note().shown()), field="lot")
        row = work.first(_NEW, {"p_slot": slot_id, "p_lot": lot.lot, "p_expiry": lot.expiry, "p_qty": quantity,
                                "p_at": at})  # fmt: skip
        assert row is not None  # INSERT ... RETURNING id
        lot_id = int(row[0])
    else:
        lot_id = int(found["id"])
        if found["quantity"] + quantity < 0:
            raise DomainError(
                lazy_gettext(
                    "%(describe)s holds %(quantity)s here, not %(quantity_2)s",
                    describe=lot.note().shown(),
                    quantity=found["quantity"],
                    quantity_2=-quantity,
                ),
                field="quantity",
            )
        work.execute(_ADD, {"p_id": lot_id, "p_qty": quantity}).close()
    work.execute(_MOVED, {"p_ledger": ledger_id, "p_lot": lot_id, "p_qty": quantity}).close()


def _fefo(work: FastWork, ledger_id: int, held: list[HeldLot], wanted: int, before: int, today: date) -> None:
    untracked = max(before - sum(h.quantity for h in held), 0)
    usable = [h for h in held if not h.expired(today)]
    parts: list[tuple[int, int]] = []  # (lot id, units taken)
    for source in [*usable, None, *(h for h in held if h.expired(today))]:
        if wanted <= 0:
            break
        has = untracked if source is None else source.quantity
        taken = min(has, wanted)
        wanted -= taken
        if source is not None and taken > 0:
            parts.append((source.id, taken))
    if parts:
        work.execute_many(_ADD, [{"p_id": lot_id, "p_qty": -taken} for lot_id, taken in parts])
        work.execute_many(
            _MOVED, [{"p_ledger": ledger_id, "p_lot": lot_id, "p_qty": -taken} for lot_id, taken in parts]
        )


def expiring_column(slot_id: ColumnElement[int]) -> ScalarSelect[date]:
    """MIN(expiry) of the slot's held lots: a correlated subquery to add to a statement that reads the slot."""
    return (
        select(func.min(lot_c.expiry))
        .where(lot_c.slot_id == slot_id, lot_c.quantity > 0, lot_c.expiry.is_not(None))
        .scalar_subquery()
    )


def check_usable(work: FastWork, slot_id: int, slot_code: str, quantity: int, today: date) -> None:
    """After a reservation of `quantity`: refuse (DomainError) when it could only be met with expired units."""
    held = [HeldLot(r[0], slot_id, r[1], r[2], int(r[3])) for r in work.all(_HELD, {"p_slot": slot_id})]
    expired = [h for h in held if h.expired(today)]
    if not expired:
        return
    stock = work.mapping(_STOCK, {"p_slot": slot_id})
    on_hand, reserved = (int(stock["on_hand"]), int(stock["reserved"])) if stock else (0, 0)
    gone = sum(h.quantity for h in expired)
    free = on_hand - gone - (reserved - quantity)  # what this request may have, expired units set aside
    if free >= quantity:
        return
    dates = " and ".join(sorted({f"{h.expiry:%Y-%m-%d}" for h in expired}))
    if on_hand - gone <= 0:
        raise DomainError(
            lazy_gettext(
                "the %(gone)s in %(slot_code)s expired on %(dates)s: ask the crib to replace them",
                gone=gone,
                slot_code=slot_code,
                dates=dates,
            ),
            field="slot",
            code="expired",
        )
    raise DomainError(
        lazy_gettext(
            "only %(free)s in %(slot_code)s can be issued: %(gone)s expired on %(dates)s and wait for the crib "
            "to replace them",
            free=max(free, 0),
            slot_code=slot_code,
            gone=gone,
            dates=dates,
        ),
        field="quantity",
        code="expired",
    )


@dataclass(frozen=True, slots=True)
class LotLine:
    """A lot held in a slot, for the pick list: pull it when expired."""

    lot_id: int
    slot_code: str
    sku: str
    item_name: str
    lot: str
    expiry: date | None
    quantity: int
    expired: bool


def machine_lots(session: Session, machine_id: int, today: date) -> list[LotLine]:
    """Every lot with units in the machine's slots, by slot then first expiry."""
    rows = session.execute(
        select(lot_c.id, Slot.code, Item.sku, Item.name, lot_c.lot, lot_c.expiry, lot_c.quantity)
        .join(Slot, Slot.id == lot_c.slot_id)
        .join(Item, Item.id == Slot.item_id)
        .where(Slot.machine_id == machine_id, lot_c.quantity > 0)
        .order_by(Slot.code, *_HELD_ORDER)
    ).all()
    return [
        LotLine(lot_id, code, sku, name, lot, expiry, int(qty), expiry is not None and expiry < today)
        for lot_id, code, sku, name, lot, expiry, qty in rows
    ]


def expired_by_slot(session: Session, machine_id: int, today: date) -> dict[int, int]:
    """Expired units per slot id of a machine (slots without any are left out)."""
    rows = session.execute(
        select(lot_c.slot_id, func.sum(lot_c.quantity))
        .join(Slot, Slot.id == lot_c.slot_id)
        .where(Slot.machine_id == machine_id, lot_c.quantity > 0, lot_c.expiry < today)
        .group_by(lot_c.slot_id)
    ).all()
    return {int(slot_id): int(total) for slot_id, total in rows}


def held_lot(session: Session, lot_id: int) -> HeldLot | None:
    row = session.get(SlotLot, lot_id)
    return None if row is None else HeldLot(row.id, row.slot_id, row.lot, row.expiry, row.quantity)


def of_entries(session: Session, ledger_ids: Sequence[int]) -> dict[int, list[str]]:
    """For the ledger page: each entry's lots as "L123 (2026-11-30) −2"."""
    if not ledger_ids:
        return {}
    rows = session.execute(
        select(moved_c.ledger_id, lot_c.lot, lot_c.expiry, moved_c.quantity)
        .join(SlotLot, lot_c.id == moved_c.slot_lot_id)
        .where(moved_c.ledger_id.in_(list(ledger_ids)))
        .order_by(moved_c.id)
    ).all()
    found: dict[int, list[str]] = defaultdict(list)
    for ledger_id, lot, expiry, qty in rows:
        found[ledger_id].append(f"{lot or '—'}" + (f" ({expiry:%Y-%m-%d})" if expiry else "") + f" {qty:+d}")
    return dict(found)
