"""The stock ledger: exactly-once by idempotency key, never negative, correct with two kiosks on one slot."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.outbox import OutboxEvent
from tests.vending.conftest import World
from vending import authorise, dispense, ledger
from vending.ledger import OutOfStock
from vending.models import LedgerEntry, Machine, SlotStock


def test_repeated_key_moves_stock_once(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    slot = world.slots["A1"]
    for _ in range(3):
        with unit_of_work(session_factory) as s:
            movement = ledger.post(s, slot_id=slot, kind="adjust", quantity=-2, key="adj-1", at=clock.now())
    assert movement.duplicate and movement.on_hand_after == 3
    with session_factory() as s:
        assert ledger.on_hand(s, slot) == 3
        assert s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "adjust")) == 1


def test_never_negative(session_factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with unit_of_work(session_factory) as s, pytest.raises(OutOfStock, match="slot holds 5, cannot take 6"):
        ledger.post(s, slot_id=world.slots["A1"], kind="issue", quantity=-6, key="too-many", at=clock.now())


def test_stock_level_event_carries_min_max_and_low(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        ledger.post(s, slot_id=world.slots["A1"], kind="issue", quantity=-4, key="big", at=clock.now())
    with session_factory() as s:
        import json

        payload = json.loads(s.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id.desc())).first() or "{}")
    assert payload["type"] == "vending.stock_level_changed"
    assert {k: payload["data"][k] for k in ("sku", "on_hand", "min_level", "max_level", "low")} == {
        "sku": "GLV-1",
        "on_hand": 1,
        "min_level": 1,
        "max_level": 5,
        "low": True,
    }


def test_two_kiosks_one_slot_under_threads(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    """Eight workers race for five items: exactly five are authorised and charged, stock ends at zero."""
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    guard = threading.Lock()

    def kiosk(n: int) -> None:
        barrier.wait()
        with unit_of_work(session_factory) as s:
            machine = s.get(Machine, world.machine_id)
            assert machine is not None
            view = authorise.request(
                s,
                machine=machine,
                worker_id=world.workers[f"W{n % 3 + 1}"],
                slot_code="A1",
                quantity=1,
                charge_codes={},
                request_key=f"race-{n}",
                now=clock.now(),
            )
        if view.status == "authorised":
            with unit_of_work(session_factory) as s:
                dispense.mark_commanded(s, view.id, {}, clock.now())
                dispense.record_sensed(s, view.id, 1, "door opened", clock.now())
            with unit_of_work(session_factory) as s:
                view = dispense.complete(s, view.id, clock.now())
        with guard:
            outcomes.append(view.status if view.status != "refused" else view.detail)

    threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["completed"] * 5 + ["this slot is empty: choose another item"] * 3
    with session_factory() as s:
        stock = s.get(SlotStock, world.slots["A1"])
        assert stock is not None and (stock.on_hand, stock.reserved) == (0, 0)
        issued = s.scalar(
            select(func.sum(LedgerEntry.quantity)).where(
                LedgerEntry.slot_id == world.slots["A1"], LedgerEntry.kind == "issue"
            )
        )
        assert issued == -5


def test_concurrent_posts_with_one_key_write_one_entry(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    barrier = threading.Barrier(6)

    def post() -> None:
        barrier.wait()
        with unit_of_work(session_factory) as s:
            ledger.post(s, slot_id=world.slots["A2"], kind="issue", quantity=-1, key="same-key", at=clock.now())

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with session_factory() as s:
        assert ledger.on_hand(s, world.slots["A2"]) == 4
