"""Every machine kind through the runner against its simulator over real bytes (pty and TCP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.clock import ManualClock
from core.db import unit_of_work
from core.outbox import OutboxEvent
from tests.vending.conftest import World
from vending import authorise, dispense, ledger
from vending.drivers import DevicePool
from vending.models import LedgerEntry, Machine, Slot
from vending.runner import DispenseRunner
from vending.simulated import SimulatedMachines, start_simulators


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatedMachines]:
    machines = start_simulators(locker_slots=["A1", "A2", "A3"], coil_selections=[11, 12], shelf_bins=["B1", "B2"])
    yield machines
    machines.stop()


def _add_machine(
    factory: sessionmaker[Session],
    world: World,
    kind: str,
    config: dict[str, object],
    slots: list[tuple[str, str, str, float | None]],
) -> int:
    with unit_of_work(factory) as s:
        machine = Machine(
            code=kind.upper(), name=kind, site_id=world.site_id, kind=kind, driver_config=json.dumps(config)
        )
        s.add(machine)
        s.flush()
        for i, (code, sku, ref, weight) in enumerate(slots):
            slot = Slot(
                machine_id=machine.id,
                code=code,
                item_id=world.items[sku],
                device_ref=ref,
                capacity=50,
                min_level=2,
                max_level=40,
                unit_weight_g=weight,
            )
            s.add(slot)
            s.flush()
            ledger.post(s, slot_id=slot.id, kind="restock", quantity=40, key=f"{kind}:{i}", at=world_now(factory))
        return machine.id


def world_now(factory: sessionmaker[Session]) -> object:
    from tests.vending.conftest import NOW

    return NOW


def _dispense(
    factory: sessionmaker[Session],
    clock: ManualClock,
    machine_id: int,
    worker_id: int,
    slot: str,
    quantity: int,
    key: str,
    runner: DispenseRunner,
) -> dispense.DispenseView:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, machine_id)
        assert machine is not None
        view = authorise.request(
            s,
            machine=machine,
            worker_id=worker_id,
            slot_code=slot,
            quantity=quantity,
            charge_codes={},
            request_key=key,
            now=clock.now(),
        )
    assert view.status == "authorised", view.detail
    return runner.run(view.id)


@pytest.fixture
def runner(session_factory: sessionmaker[Session], clock: ManualClock) -> Iterator[DispenseRunner]:
    pool = DevicePool()
    yield DispenseRunner(session_factory, clock, pool)
    pool.close_all()


def test_coil_success_and_jam(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    sims: SimulatedMachines,
    runner: DispenseRunner,
) -> None:
    machine_id = _add_machine(
        session_factory,
        world,
        "coil_machine",
        sims.configs["coil_machine"],
        [("11", "GLV-1", "11", None), ("12", "DRL-8", "12", None)],
    )
    sims.coil.set_outcome(11, "success")
    done = _dispense(session_factory, clock, machine_id, world.workers["W1"], "11", 2, "c1", runner)
    assert (done.status, done.taken) == ("completed", 2), done.detail
    sims.coil.set_outcome(12, "jam")
    jammed = _dispense(session_factory, clock, machine_id, world.workers["W1"], "12", 1, "c2", runner)
    assert jammed.status == "failed" and "jammed" in jammed.detail
    with session_factory() as s:
        slots = {sl.code: sl for sl in s.scalars(select(Slot).where(Slot.machine_id == machine_id))}
        assert ledger.on_hand(s, slots["11"].id) == 38
        assert ledger.on_hand(s, slots["12"].id) == 40  # a jam charges nobody
        assert slots["12"].state == "jammed"
        issues = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "issue")).all()
        assert [(e.slot_id, e.quantity) for e in issues] == [(slots["11"].id, -2)]
    sims.coil.set_outcome(12, "success")


def test_scale_shelf_charges_what_the_weight_says(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    sims: SimulatedMachines,
    runner: DispenseRunner,
) -> None:
    machine_id = _add_machine(
        session_factory,
        world,
        "scale_shelf",
        sims.configs["scale_shelf"],
        [("B1", "EAR-1", "B1", 25.0), ("B2", "GLV-1", "B2", 25.0)],
    )
    sims.person.take_per_visit[0] = 3  # asked for 1, took 3: charge 3
    done = _dispense(session_factory, clock, machine_id, world.workers["W2"], "B1", 1, "s1", runner)
    assert (done.status, done.taken) == ("completed", 3), done.detail
    sims.person.take_per_visit[1] = -2  # put two back: a return
    back = _dispense(session_factory, clock, machine_id, world.workers["W2"], "B2", 1, "s2", runner)
    assert (back.status, back.taken) == ("completed", -2), back.detail
    with session_factory() as s:
        slots = {sl.code: sl.id for sl in s.scalars(select(Slot).where(Slot.machine_id == machine_id))}
        assert ledger.on_hand(s, slots["B1"]) == 37
        assert ledger.on_hand(s, slots["B2"]) == 42
        kinds = s.scalars(select(LedgerEntry.kind).where(LedgerEntry.dispense_id.is_not(None))).all()
        assert sorted(kinds) == ["issue", "return"]
        events = [
            json.loads(p)["data"]
            for p in s.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "vending.item_dispensed"))
        ]
        assert sorted(e["quantity"] for e in events) == [-2, 3]


def test_crash_mid_dispense_is_settled_from_each_device(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    sims: SimulatedMachines,
    runner: DispenseRunner,
) -> None:
    """The process died after sending the command: the scale's weight tells what was taken; a coil cannot tell."""
    shelf = _add_machine(
        session_factory, world, "scale_shelf", sims.configs["scale_shelf"], [("B1", "EAR-1", "B1", 25.0)]
    )
    coil = _add_machine(
        session_factory, world, "coil_machine", sims.configs["coil_machine"], [("11", "GLV-1", "11", None)]
    )
    adapter = runner.pool.get(shelf, "scale_shelf", json.dumps(sims.configs["scale_shelf"]))
    views = {}
    for machine_id, slot, key in ((shelf, "B1", "x1"), (coil, "11", "x2")):
        with unit_of_work(session_factory) as s:
            machine = s.get(Machine, machine_id)
            assert machine is not None
            views[slot] = authorise.request(
                s,
                machine=machine,
                worker_id=world.workers["W1"],
                slot_code=slot,
                quantity=1,
                charge_codes={},
                request_key=key,
                now=clock.now(),
            )
    baseline = adapter.baseline("B1")
    with unit_of_work(session_factory) as s:
        dispense.mark_commanded(s, views["B1"].id, baseline, clock.now())
        dispense.mark_commanded(s, views["11"].id, {"selection": 11}, clock.now())
    sims.scales.scale(1).take(2)  # the worker took two while the process was down
    settled = {v.slot_code: v for v in runner.reconcile()}
    assert (settled["B1"].status, settled["B1"].taken) == ("completed", 2)
    assert settled["11"].status == "failed" and "count the slot" in notes.english(settled["11"].detail)
    assert runner.reconcile() == []
    with session_factory() as s:
        slots = {sl.machine_id: sl for sl in s.scalars(select(Slot).where(Slot.machine_id.in_((shelf, coil))))}
        assert ledger.on_hand(s, slots[shelf].id) == 38
        assert ledger.on_hand(s, slots[coil].id) == 40 and slots[coil].state == "jammed"
