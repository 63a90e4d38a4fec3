"""Dispense state machine and runner against the Kerong lock-board simulator over a real pty."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import InvalidTransition
from core.outbox import OutboxEvent
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.vending.conftest import World, kerong_config
from vending import authorise, dispense, ledger
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
    assert done.status == "failed" and "door_not_opened" in done.detail
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
