"""Restock mode: a pick list per machine from slots below max, counts and fills recorded in the ledger.

Expired units do not count towards the slot's level (they are to be pulled: `pull_lot`, a ledger movement of
kind "pull" with its reason); a fill may carry the lot and expiry its label gave (`vending.restock_scan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, notes
from core.errors import DomainError, NotFound
from core.models import Item, Site
from core.notes import N_, Note
from vending import ledger, lots
from vending.lots import LotRef
from vending.models import Machine, Slot, SlotStock
from vending.slot_states import SlotState
from vending.slot_states import move as move_slot

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
    expired: int = 0  # units past their expiry: to pull, not counted in the level


@dataclass(frozen=True, slots=True)
class CountResult:
    slot_code: str
    expected: int
    counted: int
    difference: int
    flagged: bool


def pick_list(session: Session, machine_id: int, today: date | None = None) -> list[PickLine]:
    """Slots below their maximum, expired units left out of the level (`today` at the site; None: ignore expiry)."""
    expired = lots.expired_by_slot(session, machine_id, today) if today is not None else {}
    rows = session.execute(
        select(Slot, Item, SlotStock.on_hand)
        .join(Item, Item.id == Slot.item_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .where(Slot.machine_id == machine_id)
        .order_by(Slot.code)
    ).all()
    lines = []
    for slot, item, on_hand in rows:
        gone = expired.get(slot.id, 0)
        held = int(on_hand or 0) - gone
        if held < slot.max_level or gone:
            lines.append(
                PickLine(
                    slot.id, slot.code, item.sku, item.name, held, slot.max_level, max(slot.max_level - held, 0),
                    slot.state, gone,
                )
            )  # fmt: skip
    return lines


def slot_of(session: Session, machine_id: int, slot_code: str) -> Slot:
    slot = session.scalar(select(Slot).where(Slot.machine_id == machine_id, Slot.code == slot_code))
    if slot is None:
        raise NotFound(lazy_gettext("no slot %(slot_code)s on this machine", slot_code=repr(slot_code)), field="slot")
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
        raise DomainError(
            lazy_gettext("a count is a whole number from 0 to %(max_count)s", max_count=format(MAX_COUNT, ",")),
            field="counted",
        )
    slot = slot_of(session, machine_id, slot_code)
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
        reason=Note.of(N_("counted %(counted)s, expected %(expected)s"), counted=counted, expected=expected).encode(),
        flagged=difference != 0,
        actor=actor,
    )
    if difference and not movement.duplicate:
        audit.record(
            session,
            actor or (f"worker:{worker_id}" if worker_id else "unknown"),
            "vending.count.difference",
            "vending_slot",
            slot.id,
            before={"on_hand": expected},
            after={"on_hand": movement.on_hand_after},
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
    lot: LotRef | None = None,
    how: Note | None = None,
) -> int:
    """Items put into a slot (of `lot` when the label named one); refuses to overfill beyond capacity.

    `how` says how the item was confirmed (a scan) for the ledger's reason. Returns the new on-hand."""
    if added > MAX_COUNT:
        raise DomainError(
            lazy_gettext("the number added is at most %(max_count)s", max_count=format(MAX_COUNT, ",")), field="added"
        )
    if added <= 0:
        raise DomainError(lazy_gettext("the number added must be 1 or more"), field="added")
    slot = slot_of(session, machine_id, slot_code)
    held = ledger.lock_stock(session, slot.id).on_hand
    if held + added > slot.capacity:
        raise DomainError(
            lazy_gettext(
                "slot %(code)s holds at most %(capacity)s; it has %(held)s",
                code=slot.code,
                capacity=slot.capacity,
                held=held,
            ),
            field="added",
        )
    movement = ledger.post(
        session,
        slot_id=slot.id,
        kind="restock",
        quantity=added,
        key=key,
        at=now,
        worker_id=worker_id,
        reason=notes.joined([Note.of(N_("restock")), *(n for n in (how, lot.note() if lot else None) if n)]).encode(),
        actor=actor,
        lot=lot,
    )
    if slot.state == SlotState.JAMMED:
        move_slot(slot, SlotState.OK)  # the restocker has cleared and refilled the slot
    return movement.on_hand_after


def pull_lot(
    session: Session,
    machine_id: int,
    lot_id: int,
    *,
    key: str,
    now: datetime,
    today: date,
    worker_id: int | None = None,
    actor: str = "",
) -> int:
    """Take an expired lot's units out of its slot (a "pull" in the ledger, with the reason). Returns the units."""
    held = lots.held_lot(session, lot_id)
    slot = session.get(Slot, held.slot_id) if held is not None else None
    if held is None or slot is None or slot.machine_id != machine_id:
        raise NotFound(lazy_gettext("that lot is not in this machine"), field="lot")
    if held.quantity <= 0:
        raise DomainError(
            lazy_gettext(
                "slot %(code)s holds nothing of lot %(batch)s any more",
                code=slot.code,
                batch=held.lot or lazy_gettext("(no batch)"),
            ),
            field="lot",
        )
    if not held.expired(today):
        raise DomainError(
            lazy_gettext(
                "lot %(batch)s has not expired: leave it in slot %(code)s",
                batch=held.lot or lazy_gettext("(no batch)"),
                code=slot.code,
            ),
            field="lot",
        )
    ref = LotRef(held.lot, held.expiry)
    ledger.lock_stock(session, slot.id)
    movement = ledger.post(
        session,
        slot_id=slot.id,
        kind="pull",
        quantity=-held.quantity,
        key=key,
        at=now,
        worker_id=worker_id,
        reason=Note.of(N_("expired (%(lot)s): pulled from slot %(slot)s"), lot=ref.note(), slot=slot.code).encode(),
        actor=actor,
        lot=ref,
    )
    if not movement.duplicate:
        audit.record(
            session, actor or (f"worker:{worker_id}" if worker_id else "unknown"), "vending.lot.pulled", "vending_slot",
            slot.id, before={"lot": held.lot, "quantity": held.quantity}, after={"lot": held.lot, "quantity": 0},
            comment=f"slot {slot.code}: {held.quantity} of {ref.describe()} pulled as expired",
        )  # fmt: skip
    return held.quantity


def machine_id_for(session: Session, code: str) -> int:
    machine_id = session.scalar(select(Machine.id).where(Machine.code == code))
    if machine_id is None:
        raise NotFound(lazy_gettext("no machine %(code)s", code=repr(code)), field="machine")
    return machine_id


def site_today(session: Session, machine_id: int, now: datetime) -> date:
    """Today's date where the machine stands (expiry dates are read as the site's days)."""
    name = session.scalar(
        select(Site.timezone).join(Machine, Machine.site_id == Site.id).where(Machine.id == machine_id)
    )
    try:
        zone = ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()
