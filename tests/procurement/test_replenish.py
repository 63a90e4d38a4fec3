"""Events → stock view → replenishment: drafts merged per supplier, reasons, re-pricing, no doubles, concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import notes
from core.db import unit_of_work
from procurement import config
from procurement.models import DemandStat, PurchaseOrder, PurchaseOrderLine, StockView
from procurement.orders import DRAFT, PENDING, get_po
from procurement.queries import current_warnings
from procurement.replenish import replenish, submit_system_drafts
from procurement.stock import roll_windows
from procurement.workflow import submit
from tests.procurement.conftest import World
from tests.support import read_in


def _lines(world: World) -> list[tuple[str, str, int, str, str]]:
    from core.models import Item
    from procurement.models import Supplier

    with world.session() as s:
        rows = s.execute(
            select(PurchaseOrder.po_number, Supplier.code, PurchaseOrderLine.quantity, Item.sku,
                   PurchaseOrderLine.reason, PurchaseOrderLine.unit_price)
            .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Item, Item.id == PurchaseOrderLine.item_id)
            .order_by(Item.sku)
        ).all()  # fmt: skip
    return [(n, sup, q, sku, notes.english(reason)) for n, sup, q, sku, reason, _ in rows]


def test_events_to_draft_lines_merged_per_supplier(world: World) -> None:
    world.publish(world.dispense("GLOVE", 5), world.level("GLOVE", 8), world.level("WIPE", 2), world.level("DRILL", 9))
    assert world.deliver() == 4
    assert world.deliver() == 0  # delivered once: the outbox marker commits with the effect
    with unit_of_work(world.factory) as s:
        report = replenish(s, world.clock, only_dirty=True)
    assert (report.lines_created, report.pos_created) == (3, 2)
    lines = _lines(world)
    by_sku = {sku: (supplier, qty, reason) for _n, supplier, qty, sku, reason in lines}
    assert by_sku["GLOVE"] == ("ACME", 36, "position 8 < min 10 → 32 → 36, pack of 6")
    assert by_sku["WIPE"][:2] == ("ACME", 40) and by_sku["DRILL"][:2] == ("OMEGA", 40)
    assert len({n for n, sup, *_ in lines if sup == "ACME"}) == 1  # one draft per (supplier, site, currency)
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(StockView).where(StockView.dirty.is_(True))) == 0
        stat = s.get(DemandStat, (1, world.site_id))
        assert stat is not None and stat.total == 5


def test_second_run_orders_nothing_more_because_position_counts_open_orders(world: World) -> None:
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    for _ in range(2):
        with unit_of_work(world.factory) as s:
            replenish(s, world.clock)
    assert [q for _n, _s, q, _k, _r in _lines(world)] == [36]


def test_merge_into_existing_draft_reprices_across_a_break(world: World) -> None:
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    with unit_of_work(world.factory) as s:
        replenish(s, world.clock)
        config.set_policy(s, config.PolicyData("GLOVE", "PLANT1", "min_max", 60, 100), "test", world.clock)
    world.clock.advance(minutes=5)
    with unit_of_work(world.factory) as s:
        report = replenish(s, world.clock)
    assert report.lines_merged == 1
    with world.session() as s:
        line = s.scalar(select(PurchaseOrderLine))
        assert line is not None
        assert line.quantity == 36 + 60  # position 44 < min 60 → 56 → 60, pack of 6
        assert str(line.unit_price) == "9.0000"  # 96 ≥ 50 crosses the break
        assert "(now 96)" in notes.english(line.reason)
        reason = line.reason
    with read_in("de"):
        first, added = notes.shown_lines(reason)
    assert first == "disponibler Bestand 8 < Minimum 10 → 32 → 36, Packung zu 6"
    assert added.endswith("(jetzt 96)") and ": +60: disponibler Bestand 44 < Minimum 60 → 56" in added


def test_never_touches_a_po_past_draft(world: World) -> None:
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    with unit_of_work(world.factory) as s:
        replenish(s, world.clock)
        number = s.scalar(select(PurchaseOrder.po_number))
        assert number is not None
        assert submit(s, number, "system:replenish", world.clock) == PENDING
        config.set_policy(s, config.PolicyData("GLOVE", "PLANT1", "min_max", 40, 80), "test", world.clock)
    world.publish(world.level("GLOVE", 0))
    world.deliver()
    with unit_of_work(world.factory) as s:
        replenish(s, world.clock, only_dirty=True)
    with world.session() as s:
        pos = s.execute(select(PurchaseOrder.po_number, PurchaseOrder.status).order_by(PurchaseOrder.id)).all()
        assert [p[1] for p in pos] == [PENDING, DRAFT]
        first = get_po(s, pos[0][0])
        assert s.scalar(select(PurchaseOrderLine.quantity).where(PurchaseOrderLine.po_id == first.id)) == 36
    assert sorted(q for _n, _s, q, _k, _r in _lines(world)) == [36, 48]  # 0 + 36 open < 40 → 44 → 48


def test_debounce_waits_for_quiet_stock(world: World) -> None:
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    with unit_of_work(world.factory) as s:
        assert replenish(s, world.clock, only_dirty=True, settle_seconds=30).examined == 0
    world.clock.advance(seconds=31)
    with unit_of_work(world.factory) as s:
        assert replenish(s, world.clock, only_dirty=True, settle_seconds=30).lines_created == 1


def test_redelivered_or_stale_level_is_ignored(world: World) -> None:
    late = world.level("GLOVE", 30)
    world.clock.advance(minutes=1)
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    world.publish(late)  # older report arrives after the newer one
    world.deliver()
    with world.session() as s:
        assert s.scalar(select(StockView.on_hand)) == 8


def test_auto_rop_uses_rolling_demand_and_rolls_the_window(world: World) -> None:
    with unit_of_work(world.factory) as s:
        config.set_policy(s, config.PolicyData("DRILL", "PLANT1", "auto_rop", lookback_days=7, service_level=0.95),
                          "test", world.clock)  # fmt: skip
    for day in range(7):
        world.publish(world.dispense("DRILL", 10 + day % 2 * 4))
        world.clock.advance(days=1)
    world.deliver()
    world.publish(world.level("DRILL", 20))
    world.deliver()
    with unit_of_work(world.factory) as s:
        replenish(s, world.clock, only_dirty=True)
    lines = _lines(world)
    assert len(lines) == 1 and "reorder point" in lines[0][4]
    world.clock.advance(days=30)
    with unit_of_work(world.factory) as s:
        roll_windows(s, world.clock.now().date())
        stat = s.get(DemandStat, (2, world.site_id))
        assert stat is not None and (stat.total, stat.total_sq) == (0, 0)


def test_system_drafts_are_submitted_and_one_is_auto_approved(world: World) -> None:
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    world.publish(world.level("GLOVE", 8), world.level("DRILL", 5))
    world.deliver()
    with unit_of_work(world.factory) as s:
        replenish(s, world.clock)
        results = dict(submit_system_drafts(s, world.clock))
    assert sorted(results.values()) == ["approved", "pending_approval"]
    with world.session() as s:
        drill_po = s.scalar(select(PurchaseOrder).where(PurchaseOrder.status == PENDING))
        assert drill_po is not None and current_warnings(drill_po.status, drill_po.warnings) == (
            "auto-approval not applied: review before order is on for cutting",
        )


@pytest.mark.parametrize("runs", [2])
def test_concurrent_runs_never_double(world: World, runs: int, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row-lock concurrency is exercised on PostgreSQL (SQLite serialises writers itself)")
    world.publish(world.level("GLOVE", 8), world.level("WIPE", 2), world.level("DRILL", 9))
    world.deliver()
    barrier = threading.Barrier(runs)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with unit_of_work(world.factory) as s:
                replenish(s, world.clock)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 2
    assert sorted(q for _n, _s, q, _k, _r in _lines(world)) == [36, 40, 40]
    # Second round: the drafts exist, so both runs would merge into the same lines; the lock keeps one.
    with unit_of_work(world.factory) as s:
        config.set_policy(s, config.PolicyData("GLOVE", "PLANT1", "min_max", 60, 100), "test", world.clock)
    barrier = threading.Barrier(runs)
    threads = [threading.Thread(target=run) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(q for _n, _s, q, _k, _r in _lines(world)) == [40, 40, 96]  # 36 + 60 once, not 36 + 120


def test_a_pair_without_policy_adopts_the_machine_min_max(world: World) -> None:
    from core.events import StockLevelChanged
    from core.models import Item

    with unit_of_work(world.factory) as s:
        s.add(Item(sku="TAPE", name="Tape", category="consumables"))
    world.publish(StockLevelChanged(occurred_at=world.clock.now(), site_code="PLANT1", sku="TAPE", on_hand=1,
                                    min_level=4, max_level=12, low=True))  # fmt: skip
    world.deliver()
    with world.session() as s:
        from procurement.models import ReorderPolicy

        policy = s.scalar(select(ReorderPolicy).join(Item, Item.id == ReorderPolicy.item_id).where(Item.sku == "TAPE"))
        assert policy is not None and (policy.kind, policy.min_qty, policy.max_qty) == ("min_max", 4, 12)
    with unit_of_work(world.factory) as s:
        report = replenish(s, world.clock, only_dirty=True)
    assert report.problems and "no valid supplier item" in report.problems[0]


def test_record_dispenses_sums_a_batch_with_repeats(world: World) -> None:
    from procurement.stock import Dispense, record_dispenses

    day = world.clock.now().date()
    with unit_of_work(world.factory) as s, s.no_autoflush:
        record_dispenses(s, [Dispense(1, world.site_id, day, 2), Dispense(1, world.site_id, day, 3)])
    with world.session() as s:
        stat = s.get(DemandStat, (1, world.site_id))
        assert stat is not None and (stat.total, stat.total_sq) == (5, 25)


def test_the_reorder_point_prefilter_keeps_every_pair_that_is_below_its_point(world: World) -> None:
    """`load_pairs` drops automatic-reorder-point pairs far above their point in SQL; it must never drop one the
    Python decision would order (its item's chosen offer may have a shorter lead than the longest; levels differ)."""
    import random
    from datetime import timedelta

    from core.models import Item
    from procurement import policy
    from procurement.models import ReorderPolicy, SupplierItem
    from procurement.replenish_pairs import load_pairs
    from procurement.suppliers import candidates, load_offers
    from tests.procurement.conftest import add_offer

    rng = random.Random(13)
    with unit_of_work(world.factory) as s:
        for n in range(300):
            sku = f"ROP-{n}"
            s.add(Item(sku=sku, name=sku, category="consumables", unit_of_measure="EA"))
            s.flush()
            lead = rng.choice((0, 1, 3, 7, 14, 30))
            add_offer(s, "ACME", sku, f"A-{n}", [(1, "1.00")], priority=10, lead=lead)
            if n % 3 == 0:  # a lower-priority offer, slower or faster: the chosen lead is not always the longest
                other = max(0, lead + rng.choice((-30, -10, 5, 40)))
                add_offer(s, "OMEGA", sku, f"O-{n}", [(1, "0.90")], priority=1, lead=other)
            item_id = s.scalar(select(Item.id).where(Item.sku == sku))
            days = rng.choice((0, 7, 30, 90))
            daily = [rng.choice((0, 0, 1, 2, 5, 20)) for _ in range(days)]
            s.add(ReorderPolicy(item_id=item_id, site_id=world.site_id, kind=policy.AUTO_ROP,
                                service_level=rng.choice((Decimal("0.5"), Decimal("0.9"), Decimal("0.999"))),
                                lookback_days=max(days, 1)))  # fmt: skip
            s.add(StockView(item_id=item_id, site_id=world.site_id, on_hand=rng.randint(-2, 120)))
            if n % 7:  # some pairs have never been dispensed: no demand row at all
                s.add(DemandStat(item_id=item_id, site_id=world.site_id, window_days=days,
                                 window_start=world.clock.now().date() - timedelta(days=days),
                                 window_end=world.clock.now().date(), total=sum(daily),
                                 total_sq=sum(q * q for q in daily)))  # fmt: skip
    with world.session() as s:
        kept = {(r.item_id, r.site_id) for r in load_pairs(s, None) if r.kind == policy.AUTO_ROP}
        offers = load_offers(s)
        rows = s.execute(
            select(ReorderPolicy.item_id, ReorderPolicy.service_level, StockView.on_hand, DemandStat.total,
                   DemandStat.total_sq, DemandStat.window_days)
            .join(StockView, StockView.item_id == ReorderPolicy.item_id)
            .outerjoin(DemandStat, DemandStat.item_id == ReorderPolicy.item_id)
            .where(ReorderPolicy.kind == policy.AUTO_ROP)
        ).all()  # fmt: skip
        assert s.scalar(select(func.count()).select_from(SupplierItem)) > 300
    below = set()
    for item_id, level, on_hand, total, total_sq, days in rows:
        top = candidates(offers[item_id], world.clock.now().date())
        lead = top[0].lead_time_days if top else 0
        if policy.below_reorder_point(on_hand, total or 0, total_sq or 0, days or 0, lead, float(level)):
            below.add((item_id, world.site_id))
    assert below, "the data must have pairs below their point"
    assert below <= kept, f"pairs below their reorder point dropped by the SQL filter: {sorted(below - kept)[:5]}"
    assert len(kept) < len(rows) / 2, "the filter should drop the pairs far above their point"
