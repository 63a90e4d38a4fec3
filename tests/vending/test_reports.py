"""Usage by worker, group, charge code and item; consumption outliers against the group median."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from tests.vending.conftest import World
from vending import ledger, reports
from vending.workers import create_worker


def _issue(
    s: Session,
    world: World,
    clock: ManualClock,
    worker: int,
    slot: str,
    qty: int,
    key: str,
    codes: dict[str, str] | None = None,
) -> None:
    ledger.post(
        s,
        slot_id=world.slots[slot],
        kind="issue",
        quantity=-qty,
        key=key,
        at=clock.now(),
        worker_id=worker,
        charge_codes=codes,
    )


def test_usage_by_every_dimension(session_factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with unit_of_work(session_factory) as s:
        _issue(s, world, clock, world.workers["W1"], "A1", 2, "u1", {"job": "J-1"})
        _issue(s, world, clock, world.workers["W3"], "A2", 1, "u2", {"job": "J-1", "cost_center": "CC-9"})
        _issue(s, world, clock, world.workers["W3"], "A1", 1, "u3")
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(seconds=1)
    with session_factory() as s:
        by_item = [(r.key, r.quantity, r.value) for r in reports.usage(s, "item", start, end)]
        assert by_item == [("GLV-1", 3, Decimal("4.5")), ("DRL-8", 1, Decimal("1.5"))]
        assert [(r.key, r.quantity) for r in reports.usage(s, "worker", start, end)] == [("W1", 2), ("W3", 2)]
        assert [(r.key, r.quantity) for r in reports.usage(s, "group", start, end)] == [("fitters", 2), ("welders", 2)]
        by_code = [(r.key, r.quantity) for r in reports.usage(s, "charge_code", start, end)]
        assert by_code == [("job:J-1", 3), ("cost_center:CC-9", 1), ("none:(no code)", 1)]


def test_outlier_far_above_group_median(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        for n in range(4, 8):
            create_worker(s, f"W{n}", f"Worker {n}", groups=["fitters"])
        ledger.post(s, slot_id=world.slots["A1"], kind="restock", quantity=0, key="noop", at=clock.now())
        _issue(s, world, clock, world.workers["W1"], "A1", 5, "big")
        _issue(s, world, clock, world.workers["W2"], "A2", 1, "small")
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(seconds=1)
    with session_factory() as s:
        found = reports.outliers(s, start, end, factor=3, min_quantity=3)
    assert [(o.worker_code, o.group, o.quantity, o.group_median) for o in found] == [("W1", "fitters", 5, 0.0)]
