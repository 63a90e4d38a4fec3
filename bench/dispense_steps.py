"""Benchmark: the dispense's database steps alone (no device), one PostgreSQL option at a time, in one run.

What issue 13 asks to measure before keeping it: server-side prepared statements (psycopg's
prepare_threshold: never, after 5 uses, at once), the request transaction committing without waiting for
its WAL flush (the commanded commit that follows flushes it anyway), RETURNING against a separate read,
one transaction per step against one per statement, and the ledger's (worker, at) index for the rules'
usage read. Each variant runs the same request -> commanded -> settle sequence (the runner's three
transactions, through the code the product runs) on a database built by bench/dispense.py's loader;
times are per dispense, wall clock, p50 and p99.

    python bench/dispense_steps.py --database-url postgresql+psycopg://... [--ledger-rows 1000000] [--n 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dispense import BENCH_SLOTS, add_bench_machine, build_database, pct
from sqlalchemy import Engine, bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SystemClock
from core.db import make_engine, make_session_factory
from core.prepared import Prepared, fast_unit_of_work
from vending import authorise, dispense, rules
from vending.models import Machine, SlotStock
from vending.rule_cache import CACHE
from vending.workers import group_ids

Step = Callable[[int], None]


def dispense_steps(factory: sessionmaker[Session], machine: Machine, workers: int, label: str) -> Step:
    """One software-only dispense: the kiosk's request, commanded, settled (one transaction each)."""
    engine = factory.kw["bind"]

    def one(n: int) -> None:
        view, known = authorise.request_in_own_transaction(
            factory, machine=machine, worker_id=n * 7919 % workers + 1, slot_code=f"L{n % BENCH_SLOTS:02d}",
            quantity=1, charge_codes={}, request_key=f"steps:{label}:{n}", now=SystemClock().now(),
        )  # fmt: skip
        assert view.status == "authorised" and known is not None, view.detail
        with fast_unit_of_work(engine, one_statement=True) as work:  # as vending.runner runs it
            dispense.mark_commanded(work, view.id, {}, SystemClock().now())
        with fast_unit_of_work(engine) as work:
            dispense.settle(work, known, 1, "bench", SystemClock().now())

    return one


def timed(step: Step, n: int, warm: int = 20) -> tuple[float, float]:
    for i in range(warm):
        step(10_000_000 + i)
    times = []
    for i in range(n):
        started = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - started) * 1000)
    return pct(times, 50), pct(times, 99)


_STOCK = SlotStock.__table__.c
_MOVE_RETURNING = Prepared(
    update(SlotStock)
    .where(_STOCK.slot_id == bindparam("p_slot"))
    .values(on_hand=_STOCK.on_hand + 0)
    .returning(_STOCK.on_hand)
)
_MOVE = Prepared(update(SlotStock).where(_STOCK.slot_id == bindparam("p_slot")).values(on_hand=_STOCK.on_hand + 0))
_READ = Prepared(select(_STOCK.on_hand).where(_STOCK.slot_id == bindparam("p_slot")))


def statement_pairs(engine: Engine) -> dict[str, Step]:
    """RETURNING vs UPDATE then SELECT; five statements in one transaction vs each in its own."""

    def returning(n: int) -> None:
        with fast_unit_of_work(engine) as work:
            work.first(_MOVE_RETURNING, {"p_slot": n % 100 + 1})

    def separate_read(n: int) -> None:
        with fast_unit_of_work(engine) as work:
            work.execute(_MOVE, {"p_slot": n % 100 + 1}).close()
            work.first(_READ, {"p_slot": n % 100 + 1})

    def one_transaction(n: int) -> None:
        with fast_unit_of_work(engine) as work:
            for k in range(5):
                work.execute(_MOVE, {"p_slot": (n + k) % 100 + 1}).close()

    def five_transactions(n: int) -> None:
        for k in range(5):
            with fast_unit_of_work(engine) as work:
                work.execute(_MOVE, {"p_slot": (n + k) % 100 + 1}).close()

    return {
        "UPDATE ... RETURNING (one round trip)": returning,
        "UPDATE, then SELECT (two)": separate_read,
        "5 statements in one transaction": one_transaction,
        "5 statements, a transaction each": five_transactions,
    }


def rules_step(factory: sessionmaker[Session], workers: int) -> Step:
    now, tz = SystemClock().now(), authorise.zone("UTC")
    session = factory()

    def one(n: int) -> None:
        worker_id = n * 7919 % workers + 1
        rules.check(session, site_id=1, worker_id=worker_id, groups=set(group_ids(session, worker_id)), item_id=1,
                    category="cat1", quantity=1, now=now, tz=tz)  # fmt: skip

    return one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database (emptied first)")
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=2_000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args(argv)
    base = make_engine(args.database_url)
    CACHE.invalidate()
    ids = build_database(base, args.workers, args.slots, args.ledger_rows, datetime.now(UTC))
    machine_id, _ = add_bench_machine(make_session_factory(base), ids["site_id"], "{}")
    base.dispose()
    print(f"PostgreSQL, {args.ledger_rows} ledger rows; per dispense (request, commanded, settle), n={args.n}:")
    for label, connect_args in (
        ("no server-side prepare (prepare_threshold=None)", {"prepare_threshold": None}),
        ("prepare after 5 uses (psycopg's default)", {}),
        ("prepare at once (prepare_threshold=0)", {"prepare_threshold": 0}),
        ("default prepare, synchronous_commit=off (role setting)", {"options": "-c synchronous_commit=off"}),
    ):
        engine = make_engine(args.database_url, connect_args=connect_args)
        factory = make_session_factory(engine)
        with factory() as s:
            machine = s.get(Machine, machine_id)
            assert machine is not None
            s.expunge(machine)
        p50, p99 = timed(dispense_steps(factory, machine, args.workers, label[:12]), args.n)
        print(f"  {label:<56} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
        engine.dispose()
    engine = make_engine(args.database_url)
    print("statement shapes (one slot-stock UPDATE each):")
    for label, step in statement_pairs(engine).items():
        p50, p99 = timed(step, args.n)
        print(f"  {label:<56} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    factory = make_session_factory(engine)
    print("rules.check with and without the ledger's (worker_id, at) index:")
    p50, p99 = timed(rules_step(factory, args.workers), args.n)
    print(f"  {'with ix_vending_ledger_worker_at':<52} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_vending_ledger_worker_at"))
    p50, p99 = timed(rules_step(factory, args.workers), args.n)
    print(f"  {'without it':<52} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_vending_ledger_worker_at ON vending_ledger (worker_id, at)"))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
