"""The dispense state machine (`vending.dispense_states.DISPENSE`) and its service functions; no hardware here.

    requested ──► authorised ──► commanded ──► sensed ──► completed
        │              │              │
        └─► refused    └─► failed ◄───┘

Refused (rules, stock, charge codes) is decided before anything moves; failed (jam, no drop, door never
opened, device offline) carries no charge and flags the slot. Every step is one transaction of the runner's
(vending.runner) so a crash is reconciled from the device. Each function here takes a Session or a fast
unit of work (`core.prepared.FastWork`) and runs statements compiled once. Each transition is one
compare-and-set UPDATE built from the table, so two processes can never move one dispense twice; `settle`
records what was sensed and completes in one UPDATE (sources: every state the table lets reach completed
through sensed), then charges through `ledger.post`. Requests and authorisation live in vending.authorise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import partial
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import InvalidTransition, NotFound
from core.events import ItemDispensed
from core.models import Item, Site
from core.notes import N_, Note
from core.prepared import FastWork, Prepared
from vending import ledger
from vending.dispense_states import (
    AUTHORISED,
    COMMANDED,
    COMPLETED,
    DISPENSE,
    FAILED,
    SENSED,
    DispenseStatus,
)
from vending.models import Dispense, Machine, Slot, Worker
from vending.slot_states import JAMMED, SLOT

TRANSITIONS = DISPENSE.transitions
IN_FLIGHT = (AUTHORISED, COMMANDED, SENSED)

dispenses, slots, machines = Dispense.__table__.c, Slot.__table__.c, Machine.__table__.c
items, workers, sites = Item.__table__.c, Worker.__table__.c, Site.__table__.c


@dataclass(frozen=True, slots=True)
class DispenseView:
    id: int
    status: DispenseStatus
    phase: str
    detail: str
    machine_code: str
    slot_code: str
    sku: str
    item_name: str
    quantity: int
    taken: int
    worker_id: int


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything about one dispense that the runner, the events and the kiosk need, read in one query."""

    view: DispenseView
    machine_id: int
    machine_kind: str
    driver_config: str
    slot_id: int
    device_ref: str
    unit_weight: float | None
    charge_codes: str
    baseline: str
    site_code: str
    worker_code: str
    item_id: int
    site_id: int


_VIEW_FIELDS = tuple(f.name for f in fields(DispenseView))
_FACT_FIELDS = tuple(f.name for f in fields(Facts) if f.name != "view")
_FACTS = Prepared(  # every column labelled with the field it fills
    select(
        dispenses.id,
        dispenses.status,
        dispenses.phase,
        dispenses.detail,
        machines.code.label("machine_code"),
        slots.code.label("slot_code"),
        items.sku,
        items.name.label("item_name"),
        dispenses.quantity,
        dispenses.taken,
        dispenses.worker_id,
        machines.id.label("machine_id"),
        machines.kind.label("machine_kind"),
        machines.driver_config,
        slots.id.label("slot_id"),
        slots.device_ref,
        slots.unit_weight_g.label("unit_weight"),
        dispenses.charge_codes,
        dispenses.baseline,
        sites.code.label("site_code"),
        workers.worker_code,
        dispenses.item_id,
        machines.site_id,
    )
    .select_from(Dispense.__table__)
    .join(Machine.__table__, machines.id == dispenses.machine_id)
    .join(Slot.__table__, slots.id == dispenses.slot_id)
    .join(Item.__table__, items.id == dispenses.item_id)
    .join(Worker.__table__, workers.id == dispenses.worker_id)
    .join(Site.__table__, sites.id == machines.site_id)
    .where(dispenses.id == bindparam("key"))
)
_STATUS = Prepared(select(dispenses.status).where(dispenses.id == bindparam("key")))
_FLAG = Prepared(SLOT.compare_and_set(slots.state, slots.id, JAMMED, state_reason=bindparam("p_reason")))
_MOVES: dict[tuple[DispenseStatus, DispenseStatus | None, tuple[str, ...]], Prepared] = {}


def facts(session: Session | FastWork, dispense_id: int) -> Facts:
    row = FastWork.of(session).mapping(_FACTS, {"key": dispense_id})
    if row is None:
        raise NotFound(
            lazy_gettext("no dispense with id %(dispense_id)s", dispense_id=dispense_id), field="dispense_id"
        )
    row["status"] = DispenseStatus(row["status"])
    row["device_ref"] = row["device_ref"] or row["slot_code"]  # a slot wired under its own code
    return Facts(DispenseView(**{name: row[name] for name in _VIEW_FIELDS}), **{n: row[n] for n in _FACT_FIELDS})


def view(session: Session | FastWork, dispense_id: int) -> DispenseView:
    return facts(session, dispense_id).view


def load(session: Session, dispense_id: int) -> Dispense:
    dispense = session.get(Dispense, dispense_id)
    if dispense is None:
        raise NotFound(
            lazy_gettext("no dispense with id %(dispense_id)s", dispense_id=dispense_id), field="dispense_id"
        )
    return dispense


def transition(
    session: Session | FastWork,
    dispense_id: int,
    target: DispenseStatus,
    now: datetime,
    via: DispenseStatus | None = None,
    **values: Any,
) -> None:
    """Move a dispense to `target` (through `via`) if the table allows it from its current status, atomically;
    otherwise InvalidTransition names the status it found, the target and what that status allows."""
    work = FastWork.of(session)
    params = {"key": dispense_id, "p_now": now, **{f"p_{name}": value for name, value in values.items()}}
    if work.rowcount(_move(target, via, tuple(sorted(values))), params) == 1:
        return
    row = work.mapping(_STATUS, {"key": dispense_id})
    if row is None:
        raise NotFound(
            lazy_gettext("no dispense with id %(dispense_id)s", dispense_id=dispense_id), field="dispense_id"
        )
    current = DispenseStatus(row["status"])
    allowed = frozenset(s.value for s in DISPENSE.allowed(current))
    raise InvalidTransition(f"dispense {dispense_id}", current.value, target.value, allowed)


def _move(target: DispenseStatus, via: DispenseStatus | None, columns: tuple[str, ...]) -> Prepared:
    """The compare-and-set for one (target, via, columns), built from the table and compiled once."""
    key = (target, via, columns)
    if key not in _MOVES:
        values: dict[str, Any] = {"phase": target.value, "updated_at": bindparam("p_now")}
        values.update({c: bindparam(f"p_{c}") for c in columns})
        _MOVES[key] = Prepared(DISPENSE.compare_and_set(dispenses.status, dispenses.id, target, via, **values))
    return _MOVES[key]


def mark_commanded(session: Session | FastWork, dispense_id: int, baseline: dict[str, object], now: datetime) -> None:
    transition(session, dispense_id, COMMANDED, now, baseline=json.dumps(baseline, sort_keys=True))


def record_sensed(session: Session | FastWork, dispense_id: int, taken: int, detail: str, now: datetime) -> None:
    transition(session, dispense_id, SENSED, now, taken=taken, detail=detail)


def settle(
    session: Session | FastWork, known: Facts, taken: int, detail: str, now: datetime, flag: str = ""
) -> DispenseView:
    """Record what the device sensed and charge it, completing the dispense, in the caller's transaction.

    One UPDATE moves the dispense to completed by way of sensed (only if it is commanded or sensed: the
    compare-and-set makes the ledger key ours alone); then nothing taken releases the hold, a take is an
    issue and a put-back a return through `ledger.post`, which writes the stock level and ItemDispensed in
    one INSERT. When the books hold less than was taken, the difference is recorded first (a flagged adjust)."""
    dispense_id = known.view.id
    work = FastWork.of(session)
    transition(work, dispense_id, COMPLETED, now, via=SENSED, taken=taken, detail=detail)
    done = replace(known.view, status=COMPLETED, phase=COMPLETED.value, taken=taken, detail=detail)
    if taken == 0:
        ledger.release(work, known.slot_id, known.view.quantity)
    else:
        _charge(work, known, done, now)
    if flag:
        flag_slot(work, known.slot_id, flag)
    return done


def complete(session: Session | FastWork, dispense_id: int, now: datetime) -> DispenseView:
    """Charge a dispense whose sensed fact is recorded (reconcile after a crash between sensed and the charge)."""
    found = facts(session, dispense_id)
    return settle(session, found, found.view.taken, found.view.detail, now)


def _charge(work: FastWork, known: Facts, done: DispenseView, now: datetime) -> None:
    dispense_id, taken, slot_id = done.id, done.taken, known.slot_id
    slot = ledger.SlotFacts(known.item_id, known.site_id, known.site_code, done.sku)
    charge = partial(
        ledger.post, work, slot_id=slot_id, kind="issue" if taken > 0 else "return", quantity=-taken,
        key=f"dispense:{dispense_id}", at=now, worker_id=done.worker_id, dispense_id=dispense_id,
        charge_codes=known.charge_codes, reason=done.detail, actor="system:dispense", release_reserved=done.quantity,
        facts=slot, key_is_ours=True, also_publish=(_dispensed(known, done, now),),
    )  # fmt: skip
    try:
        charge()
    except ledger.OutOfStock as short:  # the shelf held more than the books said: record that before the issue
        ledger.post(
            work, slot_id=slot_id, kind="adjust", quantity=taken - short.on_hand, key=f"dispense:{dispense_id}:adj",
            at=now, flagged=True, actor="system:dispense", facts=slot, key_is_ours=True,
            reason=Note.of(N_("weight showed %(taken)s taken but only %(on_hand)s on the books"), taken=taken,
                           on_hand=short.on_hand).encode(),
        )  # fmt: skip
        charge()


def replace_view(known: Facts, view: DispenseView) -> Facts:
    return replace(known, view=view)


def _dispensed(found: Facts, view: DispenseView, now: datetime) -> ItemDispensed:
    return ItemDispensed(
        occurred_at=now,
        site_code=found.site_code,
        sku=view.sku,
        quantity=view.taken,
        worker=found.worker_code,
        machine=view.machine_code,
        slot=view.slot_code,
        charge_codes=json.loads(found.charge_codes),
    )


def fail(
    session: Session | FastWork,
    dispense_id: int,
    reason: str,
    now: datetime,
    flag_slot_too: bool = True,
    known: Facts | None = None,
) -> DispenseView:
    """No charge; the reservation is released and (by default) the slot is flagged for the crib."""
    work = FastWork.of(session)
    found = known if known is not None and known.view.id == dispense_id else facts(work, dispense_id)
    transition(work, dispense_id, FAILED, now, detail=reason, taken=0)
    ledger.release(work, found.slot_id, found.view.quantity)
    if flag_slot_too:
        flag_slot(work, found.slot_id, reason)
    return replace(found.view, status=FAILED, phase=FAILED.value, detail=reason, taken=0)


def flag_slot(session: Session | FastWork, slot_id: int, reason: str) -> None:
    FastWork.of(session).execute(_FLAG, {"key": slot_id, "p_reason": reason[:1000]}).close()  # no-op unless in service


def in_flight(session: Session, machine_id: int | None = None, untouched_since: datetime | None = None) -> list[int]:
    """Dispenses between authorised and completed; with `untouched_since`, only those idle since then."""
    query = select(dispenses.id).where(dispenses.status.in_([s.value for s in IN_FLIGHT])).order_by(dispenses.id)
    if untouched_since is not None:
        query = query.where(dispenses.updated_at <= untouched_since)
    if machine_id is not None:
        query = query.where(dispenses.machine_id == machine_id)
    return list(session.connection().execute(query).scalars())

