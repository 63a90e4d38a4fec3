"""A worker's request at a machine: authorised or refused before any hardware moves, and recorded.

Checks, in order: quantity and slot state, item active, worker active, item-to-group restrictions,
charge codes, every applicable rule, and free stock (reserved by one conditional UPDATE under the row
lock), expired units set aside (the slot's read carries its first lot expiry, so a slot without lots
costs nothing more; only a slot holding expired units reads its lots: `vending.lots.check_usable`).
The request passes requested -> authorised|refused inside one transaction, so it is written once
with its outcome (the transitions table is still the authority: see `_outcome`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import force_locale, lazy_gettext
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DomainError, NotFound
from core.models import Item, Site
from core.prepared import FastWork, Pending, Prepared, Row, fast_unit_of_work
from vending import charges, ledger, lots, rules
from vending.dispense import DispenseView, Facts, view
from vending.dispense_states import AUTHORISED, DISPENSE, REFUSED, REQUESTED, DispenseStatus
from vending.models import Dispense, GroupMember, ItemRestriction, Machine, Slot, Worker, WorkerGroup
from vending.slot_states import SlotState

dispenses, slots, items, workers, sites = (
    Dispense.__table__.c,
    Slot.__table__.c,
    Item.__table__.c,
    Worker.__table__.c,
    Site.__table__.c,
)
members, restrictions, groups_table = GroupMember.__table__.c, ItemRestriction.__table__.c, WorkerGroup.__table__.c
_ZONES: dict[str, ZoneInfo] = {}
_BY_KEY_P = Prepared(select(dispenses.id).where(dispenses.request_key == bindparam("p_key")))
_SLOT_P = Prepared(  # labelled with SlotRow's fields
    select(
        slots.id,
        slots.code,
        slots.item_id,
        slots.capacity,
        slots.state,
        items.sku,
        items.name,
        items.category,
        items.active,
        sites.timezone,
        slots.device_ref,
        slots.unit_weight_g.label("unit_weight"),
        sites.code.label("site_code"),
        lots.expiring_column(slots.id).label("expiring"),
    )
    .join_from(Slot.__table__, Item.__table__, items.id == slots.item_id)
    .join(Site.__table__, sites.id == bindparam("p_site"))
    .where(slots.machine_id == bindparam("p_machine"), slots.code == bindparam("p_code"))
)
_WORKER_P = Prepared(
    select(workers.active, members.group_id, workers.worker_code)
    .outerjoin(GroupMember.__table__, members.worker_id == workers.id)
    .where(workers.id == bindparam("p_worker"))
)
_INSERT = Prepared(
    insert(Dispense)
    .values(
        **{
            name: bindparam(f"p_{name}")
            for name in (
                "request_key",
                "machine_id",
                "slot_id",
                "worker_id",
                "item_id",
                "quantity",
                "status",
                "detail",
                "charge_codes",
                "created_at",
            )
        },
        taken=0,
        phase=bindparam("p_status"),
        baseline="{}",
        updated_at=bindparam("p_created_at"),
    )
    .returning(dispenses.id)
)
_RESTRICTED_P = Prepared(  # by the slot asked for, so it is sent with the slot's read, not after it
    select(restrictions.group_id, groups_table.name)
    .join(WorkerGroup.__table__, groups_table.id == restrictions.group_id)
    .join(Slot.__table__, slots.item_id == restrictions.item_id)
    .where(slots.machine_id == bindparam("p_machine"), slots.code == bindparam("p_code"))
)
Outcome = Callable[[], tuple[DispenseView, "Facts | None"]]  # the request's result, read once it is recorded


@dataclass(frozen=True, slots=True)
class SlotRow:
    id: int
    code: str
    item_id: int
    capacity: int
    state: str
    sku: str
    name: str
    category: str
    active: bool
    timezone: str
    device_ref: str
    unit_weight: float | None
    site_code: str
    expiring: date | None  # the first expiry among the slot's lots


def zone(name: str) -> ZoneInfo:
    if name not in _ZONES:
        try:
            _ZONES[name] = ZoneInfo(name)
        except (KeyError, ValueError):
            _ZONES[name] = ZoneInfo("UTC")
    return _ZONES[name]


def _slot(row: Row | None, machine: Machine, slot_code: str) -> SlotRow:
    if row is None:
        raise NotFound(
            lazy_gettext(
                "slot %(slot)s is not stocked on %(machine)s: pick an item from the grid",
                slot=repr(slot_code),
                machine=machine.code,
            ),
            field="slot",
        )
    found = row._mapping
    found["active"] = bool(found["active"])
    found["timezone"] = found["timezone"] or "UTC"
    found["device_ref"] = found["device_ref"] or found["code"]  # a slot wired under its own code
    return SlotRow(**found)


def request(
    session: Session,
    *,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> DispenseView:
    """Authorise or refuse a request and record it; nothing moves here. A repeated `request_key` is a no-op."""
    return request_for_run(
        session,
        machine=machine,
        worker_id=worker_id,
        slot_code=slot_code,
        quantity=quantity,
        charge_codes=charge_codes,
        request_key=request_key,
        now=now,
    )[0]


def request_for_run(
    session: Session,
    *,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> tuple[DispenseView, Facts | None]:
    """`request`, also returning the facts the runner needs when authorised (so it need not read them again).

    Runs in the caller's Session transaction; a request key inserted concurrently by another transaction
    raises SQLAlchemy's IntegrityError, as an ORM insert would."""
    work = FastWork.of_session(session)
    try:
        return _request(work, machine, worker_id, slot_code, quantity, charge_codes, request_key, now)()
    except work.dialect.loaded_dbapi.IntegrityError as clash:
        raise IntegrityError("INSERT INTO vending_dispense", {"request_key": request_key}, clash) from clash


def request_in_own_transaction(
    factory: sessionmaker[Session],
    *,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> tuple[DispenseView, Facts | None]:
    """`request_for_run` in a transaction of its own on a pooled DBAPI connection (no Session: the kiosk's
    hot path). The same tap arriving twice at once returns the request that won."""
    engine = factory.kw["bind"]
    try:  # not durable: the runner's `commanded` commit, before any hardware moves, flushes this one too
        with fast_unit_of_work(engine, durable=False) as work:
            outcome = _request(work, machine, worker_id, slot_code, quantity, charge_codes, request_key, now)
        return outcome()  # on PostgreSQL the new row's id came back with the COMMIT, in one round trip
    except engine.dialect.loaded_dbapi.IntegrityError:
        with fast_unit_of_work(engine, one_statement=True) as work:  # reads only
            existing = work.first(_BY_KEY_P, {"p_key": request_key})
            if existing is None:
                raise
            return view(work, existing._mapping["id"]), None


def _request(
    work: FastWork,
    machine: Machine,
    worker_id: int,
    slot_code: str,
    quantity: int,
    charge_codes: dict[str, str],
    request_key: str,
    now: datetime,
) -> Outcome:
    """Check, reserve and record the request; returns how to read the result (the new row's id is read after the
    COMMIT in a fast unit of work: on PostgreSQL both travel in the pipeline's last round trip).

    Round trips in pipeline mode: the key, slot, worker and restriction reads together; the reservation with the
    rules' usage read; the INSERT with the COMMIT."""
    sent = [
        work.send(_BY_KEY_P, {"p_key": request_key}),
        work.send(_SLOT_P, {"p_site": machine.site_id, "p_machine": machine.id, "p_code": slot_code}),
        work.send(_WORKER_P, {"p_worker": worker_id}),
        work.send(_RESTRICTED_P, {"p_machine": machine.id, "p_code": slot_code}),
        charges.send_modes(work, machine.site_id),
    ]
    existing = sent[0].first()
    if existing is not None:
        for unread in sent[1:]:
            unread.discard()
        earlier = view(work, existing._mapping["id"])
        return lambda: (earlier, None)
    slot = _slot(sent[1].first(), machine, slot_code)
    codes: dict[str, str] = {}
    worker_code = ""
    try:
        codes, worker_code = authorise_checks(
            work, machine, slot, worker_id, quantity, charge_codes, now, sent[2].all(), sent[3].all(), sent[4]
        )
        _not_expired(work, slot, quantity, now)
        status, detail, shown = _outcome(AUTHORISED), "", ""
    except DomainError as refusal:
        status, shown = _outcome(REFUSED), str(refusal.message)  # the kiosk's language (a lazy_gettext message)
        with force_locale("en"):  # the record keeps English, whoever was refused
            detail = str(refusal.message)
    codes_json = json.dumps(codes, sort_keys=True)
    inserted = work.send(
        _INSERT,
        {
            "p_request_key": request_key,
            "p_machine_id": machine.id,
            "p_slot_id": slot.id,
            "p_worker_id": worker_id,
            "p_item_id": slot.item_id,
            "p_quantity": quantity,
            "p_status": status,
            "p_detail": detail,
            "p_charge_codes": codes_json,
            "p_created_at": now,
        },
    )

    def outcome() -> tuple[DispenseView, Facts | None]:
        row = inserted.first()
        assert row is not None  # INSERT ... RETURNING id
        result = DispenseView(
            id=int(row[0]), status=status, phase=status.value, detail=shown, machine_code=machine.code,
            slot_code=slot.code, sku=slot.sku, item_name=slot.name, quantity=quantity, taken=0, worker_id=worker_id,
        )  # fmt: skip
        if status != AUTHORISED:
            return result, None
        return result, Facts(
            view=result,
            machine_id=machine.id,
            machine_kind=machine.kind,
            driver_config=machine.driver_config,
            slot_id=slot.id,
            device_ref=slot.device_ref,
            unit_weight=slot.unit_weight,
            charge_codes=codes_json,
            baseline="{}",
            site_code=slot.site_code,
            worker_code=worker_code,
            item_id=slot.item_id,
            site_id=machine.site_id,
        )

    return outcome


def _not_expired(work: FastWork, slot: SlotRow, quantity: int, now: datetime) -> None:
    """Expired units are not for issue: when only they could meet the request, free the hold and refuse."""
    if slot.expiring is None:
        return
    today = now.astimezone(zone(slot.timezone)).date()
    if slot.expiring >= today:
        return
    try:
        lots.check_usable(work, slot.id, slot.code, quantity, today)
    except DomainError:
        ledger.release(work, slot.id, quantity)
        raise


def _outcome(status: DispenseStatus) -> DispenseStatus:
    DISPENSE.check("a new dispense", REQUESTED, status)  # the row is inserted in this status: the table must allow it
    return status


_SLOT_STATES = {SlotState.JAMMED: lazy_gettext("jammed"), SlotState.DISABLED: lazy_gettext("disabled")}  # in a sentence


def authorise_checks(
    work: FastWork,
    machine: Machine,
    slot: SlotRow,
    worker_id: int,
    quantity: int,
    given: dict[str, str],
    now: datetime,
    worker_rows: Sequence[Row],
    allowed: Sequence[Row],
    charge_modes: Pending | None = None,
) -> tuple[dict[str, str], str]:
    """Every check that must pass before hardware moves, and the reservation; raises a DomainError naming what to
    do (with nothing reserved). `worker_rows` and `allowed`: the worker's groups and the item's restrictions;
    `charge_modes`: the site's charge-code modes, already sent.

    The reservation is sent before the charge codes and rules are checked, so it travels with the rules' usage
    read; a refusal after it releases it in the same transaction. Returns the charge codes and the worker's code."""
    if quantity < 1 or quantity > slot.capacity:
        raise DomainError(lazy_gettext("quantity must be between 1 and %(most)s", most=slot.capacity), field="quantity")
    if slot.state != SlotState.OK:
        state = _SLOT_STATES.get(SlotState(slot.state), slot.state)
        raise DomainError(
            lazy_gettext(
                "slot %(slot)s is %(state)s: choose another slot or call the crib", slot=slot.code, state=state
            ),
            field="slot",
        )
    if not slot.active:
        raise DomainError(lazy_gettext("this item is withdrawn from issue"), field="slot")
    worker = [row._mapping for row in worker_rows]
    if not worker or not worker[0]["active"]:
        raise DomainError(lazy_gettext("worker is not active"), field="worker")
    groups = {row["group_id"] for row in worker if row["group_id"] is not None}
    if allowed and not {group_id for group_id, _name in allowed} & groups:
        names = ", ".join(sorted(name for _group_id, name in allowed))
        raise DomainError(
            lazy_gettext("%(item)s is restricted to %(groups)s", item=slot.name, groups=names),
            field="slot",
            code="restricted",
        )
    reservation = ledger.send_reserve(work, slot.id, quantity)
    try:
        codes = charges.validate(work, machine.site_id, given, charge_modes)
        refusal = rules.check(
            work,
            site_id=machine.site_id,
            worker_id=worker_id,
            groups=groups,
            item_id=slot.item_id,
            category=slot.category,
            quantity=quantity,
            now=now,
            tz=zone(slot.timezone),
        )
        if refusal is not None:
            raise DomainError(refusal.message, field="rule", code="rule_limit")
    except DomainError:
        if reservation.rowcount() == 1:
            ledger.release(work, slot.id, quantity)
        raise
    ledger.check_reserved(work, reservation, slot.id)
    return codes, str(worker[0]["worker_code"])
