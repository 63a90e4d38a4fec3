"""Dispense state machine and runner against the Kerong lock-board simulator over a real pty."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import InvalidTransition
from core.outbox import OutboxEvent
from core.prepared import fast_unit_of_work
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.vending.conftest import World, kerong_config
from vending import authorise, dispense, faults, ledger
from vending.drivers import DevicePool
from vending.models import Dispense, LedgerEntry, Machine, Slot
from vending.runner import DispenseRunner


def _machine(factory: sessionmaker[Session], world: World) -> Machine:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        return machine


def _configure(factory: sessionmaker[Session], world: World, url: str) -> None:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        machine.driver_config = json.dumps(kerong_config(url))


def _request(
    factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    key: str,
    slot: str = "A1",
    worker: str = "W1",
    quantity: int = 1,
) -> dispense.DispenseView:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        return authorise.request(
            s,
            machine=machine,
            worker_id=world.workers[worker],
            slot_code=slot,
            quantity=quantity,
            charge_codes={},
            request_key=key,
            now=clock.now(),
        )


@pytest.fixture
def runner(session_factory: sessionmaker[Session], clock: ManualClock) -> DispenseRunner:
    pool = DevicePool()
    yield DispenseRunner(session_factory, clock, pool)  # type: ignore[misc]
    pool.close_all()


def test_locker_dispense_opens_door_and_charges_once(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    lockboard: LockBoardSim,
    runner: DispenseRunner,
) -> None:
    _configure(session_factory, world, lockboard.url)
    requested = _request(session_factory, world, clock, "k1")
    assert requested.status == "authorised", requested.detail
    done = runner.run(requested.id)
    assert done.status == "completed", done.detail
    assert done.taken == 1
    assert lockboard.unlock_count(0, 0) == 1
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A1"]) == 4
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.dispense_id == requested.id)).all()
        assert [(e.kind, e.quantity) for e in entries] == [("issue", -1)]
        types = s.scalars(select(OutboxEvent.event_type)).all()
        assert "vending.item_dispensed" in types
    again = _request(session_factory, world, clock, "k1")  # a double tap: same request, nothing new
    assert again.id == requested.id and again.status == "completed"


def test_stuck_lock_fails_without_charge_and_flags_slot(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    lockboard: LockBoardSim,
    runner: DispenseRunner,
) -> None:
    _configure(session_factory, world, lockboard.url)
    lockboard.set_stuck(0, 1)
    requested = _request(session_factory, world, clock, "k2", slot="A2")
    done = runner.run(requested.id)
    assert done.status == "failed" and faults.code_of(done.detail) == "door_not_opened"
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A2"]) == 5
        assert s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "issue")) == 0
        slot = s.get(Slot, world.slots["A2"])
        assert slot is not None and slot.state == "jammed"
    refused = _request(session_factory, world, clock, "k3", slot="A2")
    assert refused.status == "refused" and "jammed" in refused.detail


def test_crash_after_command_is_reconciled_from_item_sensor(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    lockboard: LockBoardSim,
    runner: DispenseRunner,
) -> None:
    _configure(session_factory, world, lockboard.url)
    requested = _request(session_factory, world, clock, "k4")
    with unit_of_work(session_factory) as s:  # the process sent the unlock, then died
        dispense.mark_commanded(s, requested.id, {"door": "closed", "item_present": True}, clock.now())
    lockboard.take(0, 0)
    assert runner.reconcile(idle_for=timedelta(minutes=10)) == []  # may still be running in another process
    clock.advance(minutes=11)
    settled = runner.reconcile(idle_for=timedelta(minutes=10))
    assert [(v.id, v.status, v.taken) for v in settled] == [(requested.id, "completed", 1)]
    assert runner.reconcile() == []
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A1"]) == 4


def test_crash_after_sensed_charges_exactly_once(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock, runner: DispenseRunner
) -> None:
    requested = _request(session_factory, world, clock, "k5")
    with unit_of_work(session_factory) as s:
        dispense.mark_commanded(s, requested.id, {}, clock.now())
        dispense.record_sensed(s, requested.id, 1, "door opened", clock.now())
    runner.reconcile()
    runner.reconcile()
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A1"]) == 4
        row = s.get(Dispense, requested.id)
        assert row is not None and row.status == "completed"


def test_transitions_table_refuses_illegal_moves(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    requested = _request(session_factory, world, clock, "k6")
    with unit_of_work(session_factory) as s, pytest.raises(InvalidTransition, match="authorised to completed"):
        dispense.complete(s, requested.id, clock.now())


def test_unknown_device_ref_fails_cleanly(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    lockboard: LockBoardSim,
    runner: DispenseRunner,
) -> None:
    _configure(session_factory, world, lockboard.url)
    with unit_of_work(session_factory) as s:
        slot = s.get(Slot, world.slots["A3"])
        assert slot is not None
        slot.device_ref = "Z9"  # not wired in the lock board's slot map
    done = runner.run(_request(session_factory, world, clock, "k7", slot="A3").id)
    assert done.status == "failed" and "device ref" in done.detail
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A3"]) == 5


def _commanded(
    factory: sessionmaker[Session], world: World, clock: ManualClock, key: str, quantity: int = 1
) -> dispense.Facts:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        view, known = authorise.request_for_run(
            s,
            machine=machine,
            worker_id=world.workers["W1"],
            slot_code="A1",
            quantity=quantity,
            charge_codes={},
            request_key=key,
            now=clock.now(),
        )
        assert view.status == "authorised" and known is not None, view.detail
        dispense.mark_commanded(s, view.id, {}, clock.now())
        return known


def _settle(
    factory: sessionmaker[Session], known: dispense.Facts, taken: int, detail: str, now: datetime, flag: str = ""
) -> dispense.DispenseView:
    """The runner's settle step: its own transaction on a pooled connection."""
    with fast_unit_of_work(factory.kw["bind"]) as work:
        return dispense.settle(work, known, taken, detail, now, flag=flag)


def _movements(factory: sessionmaker[Session], dispense_id: int) -> list[tuple[str, int, bool]]:
    with factory() as s:
        rows = s.execute(
            select(LedgerEntry.kind, LedgerEntry.quantity, LedgerEntry.flagged)
            .where(LedgerEntry.idempotency_key.like(f"dispense:{dispense_id}%"))
            .order_by(LedgerEntry.id)
        )
        return [(kind, quantity, bool(flagged)) for kind, quantity, flagged in rows]


def _stock(factory: sessionmaker[Session], slot_id: int) -> tuple[int, int]:
    from vending.models import SlotStock

    with factory() as s:
        row = s.get(SlotStock, slot_id)
        assert row is not None
        return row.on_hand, row.reserved


def _events(factory: sessionmaker[Session]) -> list[dict[str, object]]:
    with factory() as s:
        return [json.loads(p)["data"] for p in s.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id))]


def test_settle_charges_what_was_sensed_in_one_transaction(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    known = _commanded(session_factory, world, clock, "s1", quantity=2)
    assert _stock(session_factory, world.slots["A1"]) == (5, 2)
    view = _settle(session_factory, known, 2, "weight change", clock.now())
    assert (view.status, view.taken, view.detail) == ("completed", 2, "weight change")
    assert _movements(session_factory, known.view.id) == [("issue", -2, False)]
    assert _stock(session_factory, world.slots["A1"]) == (3, 0)
    events = _events(session_factory)
    level = [e for e in events if "on_hand" in e][-1]
    dispensed = [e for e in events if "charge_codes" in e][-1]
    assert level["on_hand"] == 3 and dispensed["quantity"] == 2 and dispensed["worker"] == "W1"
    # a second settle finds it completed: nothing is charged again
    with pytest.raises(InvalidTransition):
        _settle(session_factory, known, 2, "weight change", clock.now())
    assert _stock(session_factory, world.slots["A1"]) == (3, 0)


def test_settle_more_taken_than_the_books_hold_adjusts_first(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    known = _commanded(session_factory, world, clock, "s2")
    view = _settle(session_factory, known, 7, "weight shows 7 taken", clock.now())
    assert view.status == "completed" and view.taken == 7
    assert _movements(session_factory, known.view.id) == [("adjust", 2, True), ("issue", -7, False)]
    assert _stock(session_factory, world.slots["A1"]) == (0, 0)


def test_settle_a_put_back_is_a_return_and_nothing_taken_releases_the_hold(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    returned = _commanded(session_factory, world, clock, "s3")
    _settle(session_factory, returned, -2, "weight shows 2 put back", clock.now())
    assert _movements(session_factory, returned.view.id) == [("return", 2, False)]
    assert _stock(session_factory, world.slots["A1"]) == (7, 0)
    untouched = _commanded(session_factory, world, clock, "s4")
    view = _settle(session_factory, untouched, 0, "door opened, nothing taken", clock.now(), flag="check the slot")
    assert view.status == "completed" and _movements(session_factory, untouched.view.id) == []
    assert _stock(session_factory, world.slots["A1"]) == (7, 0)
    with session_factory() as s:
        slot = s.get(Slot, world.slots["A1"])
        assert slot is not None and (slot.state, slot.state_reason) == ("jammed", "check the slot")


def test_the_same_tap_twice_at_once_makes_one_request(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    import threading

    machine = _machine(session_factory, world)
    results: list[int] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def tap() -> None:
        try:
            gate.wait()
            found, _known = authorise.request_in_own_transaction(
                session_factory,
                machine=machine,
                worker_id=world.workers["W1"],
                slot_code="A1",
                quantity=1,
                charge_codes={},
                request_key="same-tap",
                now=clock.now(),
            )
            results.append(found.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 4 and len(set(results)) == 1
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Dispense).where(Dispense.request_key == "same-tap")) == 1
    assert _stock(session_factory, world.slots["A1"]) == (5, 1)  # reserved once
