"""The dispense state machine (a transitions table) and its service functions; no hardware in here.

requested -> authorised -> commanded -> sensed -> completed, or refused (rules, stock, charge codes)
before anything moves, or failed (jam, no drop, door never opened, device offline) with no charge and
the slot flagged. Every step commits on its own so a crash is reconciled from the device (vending.runner).
Each transition is one compare-and-set UPDATE whose WHERE clause is the transitions table, so two
processes can never move one dispense twice. Requests and authorisation live in vending.authorise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import outbox
from core.db import unit_of_work
from core.errors import InvalidTransition, NotFound
from core.events import ItemDispensed
from core.models import Item, Site
from core.prepared import FastWork, Prepared, fast_unit_of_work
from vending import ledger
from vending.models import Dispense, Machine, Slot, Worker

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
_D, _S, _M, _I, _W, _SITE = (
    Dispense.__table__.c,
    Slot.__table__.c,
    Machine.__table__.c,
    Item.__table__.c,
    Worker.__table__.c,
    Site.__table__.c,
)


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


_FACTS = (
    select(
        _D.id,
        _D.status,
        _D.phase,
        _D.detail,
        _M.code,
        _S.code,
        _I.sku,
        _I.name,
        _D.quantity,
        _D.taken,
        _D.worker_id,
        _M.id,
        _M.kind,
        _M.driver_config,
        _S.id,
        _S.device_ref,
        _S.unit_weight_g,
        _D.charge_codes,
        _D.baseline,
        _SITE.code,
        _W.worker_code,
        _D.item_id,
        _M.site_id,
    )
    .select_from(Dispense.__table__)
    .join(Machine.__table__, _M.id == _D.machine_id)
    .join(Slot.__table__, _S.id == _D.slot_id)
    .join(Item.__table__, _I.id == _D.item_id)
    .join(Worker.__table__, _W.id == _D.worker_id)
    .join(Site.__table__, _SITE.id == _M.site_id)
    .where(_D.id == bindparam("p_id"))
)
_STATUS = select(_D.status).where(_D.id == bindparam("p_id"))
_TRANSITIONS_SQL: dict[tuple[str, tuple[str, ...]], Any] = {}


_FACTS_P = Prepared(_FACTS)


def facts(session: Session | FastWork, dispense_id: int) -> Facts:
    work = FastWork.of(session)
    row = work.first(_FACTS_P, {"p_id": dispense_id})
    if row is None:
        raise NotFound(f"no dispense with id {dispense_id}", field="dispense_id")
    view = DispenseView(*row[:11])
    return Facts(
        view,
        row[11],
        row[12],
        row[13],
        row[14],
        row[15] or row[5],
        row[16],
        row[17],
        row[18],
        row[19],
        row[20],
        row[21],
        row[22],
    )


def view(session: Session | FastWork, dispense_id: int) -> DispenseView:
    return facts(session, dispense_id).view


def load(session: Session, dispense_id: int) -> Dispense:
    dispense = session.get(Dispense, dispense_id)
    if dispense is None:
        raise NotFound(f"no dispense with id {dispense_id}", field="dispense_id")
    return dispense


def transition(session: Session, dispense_id: int, target: str, now: datetime, **values: Any) -> None:
    """Move a dispense to `target` if the transitions table allows it from its current status, atomically."""
    conn = session.connection()
    params = {f"p_{name}": value for name, value in values.items()}
    result = conn.execute(_transition_sql(target, tuple(sorted(values))), {"p_id": dispense_id, "p_now": now, **params})
    if result.rowcount == 1:
        return
    current = conn.execute(_STATUS, {"p_id": dispense_id}).scalar()
    if current is None:
        raise NotFound(f"no dispense with id {dispense_id}", field="dispense_id")
    raise InvalidTransition(f"dispense {dispense_id}", current, target, TRANSITIONS[current])


def _transition_sql(target: str, columns: tuple[str, ...]) -> Any:
    """UPDATE ... WHERE id = :id AND status IN (every status the table allows to reach `target`), built once."""
    key = (target, columns)
    if key not in _TRANSITIONS_SQL:
        sources = sorted(status for status, targets in TRANSITIONS.items() if target in targets)
        _TRANSITIONS_SQL[key] = (
            update(Dispense)
            .where(_D.id == bindparam("p_id"), or_(*(_D.status == source for source in sources)))
            .values(status=target, updated_at=bindparam("p_now"), **{c: bindparam(f"p_{c}") for c in columns})
        )
    return _TRANSITIONS_SQL[key]


def mark_commanded(session: Session, dispense_id: int, baseline: dict[str, object], now: datetime) -> None:
    transition(session, dispense_id, "commanded", now, baseline=json.dumps(baseline, sort_keys=True), phase="commanded")


def record_sensed(session: Session, dispense_id: int, taken: int, detail: str, now: datetime) -> None:
    transition(session, dispense_id, "sensed", now, taken=taken, detail=detail, phase="sensed")


def complete(
    session: Session, dispense_id: int, now: datetime, flag: str = "", known: Facts | None = None
) -> DispenseView:
    """Charge exactly what was sensed: an issue for a take, a return for a negative count.

    `known`: the facts as the caller just wrote them (saves the read); the transition still checks the status."""
    found = known if known is not None and known.view.id == dispense_id else facts(session, dispense_id)
    transition(session, dispense_id, "completed", now, phase="completed")
    _charge(session, found, now)
    if flag:
        flag_slot(session, found.slot_id, flag)
    return _replace(found.view, status="completed", phase="completed")


# commanded -> sensed -> completed in one compare-and-set: the sensed fact and the charge commit together anyway,
# so the intermediate status is never visible. Both steps must be in the transitions table.
_SETTLED_FROM = tuple(sorted(status for status, targets in TRANSITIONS.items() if "sensed" in targets))
assert _SETTLED_FROM == ("commanded",) and "completed" in TRANSITIONS["sensed"]
_SETTLE = (
    update(Dispense)
    .where(_D.id == bindparam("p_id"), _D.status == _SETTLED_FROM[0])
    .values(
        status="completed",
        phase="completed",
        taken=bindparam("p_taken"),
        detail=bindparam("p_detail"),
        updated_at=bindparam("p_now"),
    )
)


class GeneralPath(Exception):
    """The fast settle met something unusual; its transaction rolls back and the Session path runs instead."""


_SETTLE_PREPARED = Prepared(_SETTLE)
_COMMANDED_PREPARED = Prepared(_transition_sql("commanded", ("baseline", "phase")))
_FLAG_PREPARED = Prepared(
    update(Slot).where(_S.id == bindparam("p_slot")).values(state="jammed", state_reason=bindparam("p_reason"))
)


def mark_commanded_fast(
    factory: sessionmaker[Session], dispense_id: int, baseline: dict[str, object], now: datetime
) -> None:
    """`mark_commanded` in its own fast transaction (the runner's step before the command is sent)."""
    params = {"p_id": dispense_id, "p_now": now, "p_baseline": json.dumps(baseline, sort_keys=True)}
    with fast_unit_of_work(factory.kw["bind"]) as work:
        if work.rowcount(_COMMANDED_PREPARED, {**params, "p_phase": "commanded"}) == 1:
            return
    with unit_of_work(factory) as session:  # explain why not, in the transitions table's words
        mark_commanded(session, dispense_id, baseline, now)


def settle(
    factory: sessionmaker[Session], known: Facts, taken: int, detail: str, now: datetime, flag: str = ""
) -> DispenseView:
    """The runner's step after the device reported: sensed, charged and completed in one transaction.

    The usual case runs as prepared statements on a DBAPI connection: one UPDATE moves the dispense (only
    if it is still commanded: the compare-and-set makes the ledger key ours alone), one UPDATE ... RETURNING
    moves the stock, one INSERT appends the entry, one SELECT sums the site's level and one INSERT writes
    both events. Anything unusual (not commanded any more, the books holding less than was taken) rolls
    that back and takes the general Session path: record_sensed then complete."""
    try:
        with fast_unit_of_work(factory.kw["bind"]) as work:
            return _settle_fast(work, known, taken, detail, now, flag)
    except GeneralPath:
        pass
    with unit_of_work(factory) as session:
        record_sensed(session, known.view.id, taken, detail, now)  # raises naming the status it found
        view = _replace(known.view, status="sensed", taken=taken, detail=detail)
        return complete(session, known.view.id, now, flag=flag, known=replace_view(known, view))


def _settle_fast(work: FastWork, known: Facts, taken: int, detail: str, now: datetime, flag: str) -> DispenseView:
    dispense_id = known.view.id
    params = {"p_id": dispense_id, "p_taken": taken, "p_detail": detail, "p_now": now}
    if work.rowcount(_SETTLE_PREPARED, params) != 1:
        raise GeneralPath("not commanded")
    view = _replace(known.view, status="completed", phase="completed", taken=taken, detail=detail)
    if taken == 0:
        ledger.release_fast(work, known.slot_id, known.view.quantity)
    else:
        slot = ledger.SlotFacts(known.item_id, known.site_id, known.site_code, known.view.sku)
        after = ledger.post_fresh(
            work,
            facts=slot,
            slot_id=known.slot_id,
            kind="issue" if taken > 0 else "return",
            quantity=-taken,
            key=f"dispense:{dispense_id}",
            at=now,
            worker_id=known.view.worker_id,
            dispense_id=dispense_id,
            charge_codes=known.charge_codes,
            reason=detail,
            actor="system:dispense",
            release_reserved=known.view.quantity,
        )
        if after is None:
            raise GeneralPath("the books hold less than was taken")
        outbox.publish_fast(work, [ledger.level_event_fast(work, slot, now), _dispensed(known, view, now)])
    if flag:
        work.execute(_FLAG_PREPARED, {"p_slot": known.slot_id, "p_reason": flag[:1000]}).close()
    return view


def replace_view(known: Facts, view: DispenseView) -> Facts:
    values = {name: getattr(known, name) for name in Facts.__slots__}
    values["view"] = view
    return Facts(**values)


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


def _charge(session: Session, found: Facts, now: datetime) -> None:
    """The general charge: lock the stock row, adjust first if the books hold less than was taken, post."""
    dispense_id, taken, slot_id = found.view.id, found.view.taken, found.slot_id
    codes: dict[str, str] = json.loads(found.charge_codes)
    stock: ledger.Stock | None = None
    if taken > 0:
        stock = ledger.lock_stock(session, slot_id)
        if stock.on_hand < taken:  # the shelf held more than the books said: record that before the issue
            ledger.post(
                session,
                slot_id=slot_id,
                kind="adjust",
                quantity=taken - stock.on_hand,
                key=f"dispense:{dispense_id}:adj",
                at=now,
                flagged=True,
                actor="system:dispense",
                reason=f"weight showed {taken} taken but only {stock.on_hand} on the books",
            )
            stock = None  # moved by the adjustment: post() reads it again under the lock this transaction holds
    if taken == 0:
        ledger.release(session, slot_id, found.view.quantity)
        return
    slot = ledger.SlotFacts(found.item_id, found.site_id, found.site_code, found.view.sku)
    ledger.post(
        session,
        slot_id=slot_id,
        kind="issue" if taken > 0 else "return",
        quantity=-taken,
        key=f"dispense:{dispense_id}",
        at=now,
        worker_id=found.view.worker_id,
        dispense_id=dispense_id,
        charge_codes=codes,
        reason=found.view.detail,
        actor="system:dispense",
        release_reserved=found.view.quantity,
        locked=stock,
        facts=slot,
    )
    outbox.publish(session, _dispensed(found, found.view, now))


def fail(session: Session, dispense_id: int, reason: str, now: datetime, flag_slot_too: bool = True) -> DispenseView:
    """No charge; the reservation is released and (by default) the slot is flagged for the crib."""
    found = facts(session, dispense_id)
    transition(session, dispense_id, "failed", now, detail=reason, phase="failed", taken=0)
    ledger.release(session, found.slot_id, found.view.quantity)
    if flag_slot_too:
        flag_slot(session, found.slot_id, reason)
    return _replace(found.view, status="failed", phase="failed", detail=reason, taken=0)


def flag_slot(session: Session, slot_id: int, reason: str) -> None:
    session.connection().execute(
        update(Slot).where(_S.id == slot_id).values(state="jammed", state_reason=reason[:1000])
    )


def _replace(view: DispenseView, **changes: Any) -> DispenseView:
    values = {name: getattr(view, name) for name in DispenseView.__slots__}
    values.update(changes)
    return DispenseView(**values)


def in_flight(session: Session, machine_id: int | None = None, untouched_since: datetime | None = None) -> list[int]:
    """Dispenses between authorised and completed; with `untouched_since`, only those idle since then."""
    query = select(_D.id).where(_D.status.in_(IN_FLIGHT)).order_by(_D.id)
    if untouched_since is not None:
        query = query.where(_D.updated_at <= untouched_since)
    if machine_id is not None:
        query = query.where(_D.machine_id == machine_id)
    return list(session.connection().execute(query).scalars())


def clear_slot_flag(session: Session, slot_id: int) -> None:
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(f"no slot with id {slot_id}", field="slot")
    slot.state, slot.state_reason = "ok", ""
