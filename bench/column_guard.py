"""What core.column_guard costs an ORM insert: CPU time per Item row flushed in batches of 100, with and without.

Run: python -m bench.column_guard. CPU time (process_time), best of 9 rounds, so a busy machine changes little.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from core import column_guard
from core.db import make_engine, make_session_factory
from core.models import Item
from migrations.models import load_all_models

ROWS, ROUNDS, TARGET_US = 2000, 9, 25.0


def per_row_us(factory: sessionmaker[Session]) -> float:
    best = float("inf")
    for round_ in range(ROUNDS):
        with factory() as session:
            start = time.process_time()
            for i in range(ROWS):
                session.add(
                    Item(sku=f"B{round_}-{i}", name="Bench item é", category="ppe", unit_of_measure="EA",
                         unit_cost=Decimal("1.25"))
                )  # fmt: skip
                if i % 100 == 99:
                    session.flush()
            session.flush()
            best = min(best, time.process_time() - start)
            session.rollback()
    return best * 1e6 / ROWS


def main() -> int:
    engine = make_engine("sqlite://")
    load_all_models().create_all(engine)
    factory = make_session_factory(engine)  # installs the guard
    guarded = per_row_us(factory)
    event.remove(Session, "before_flush", column_guard._before_flush)
    bare = per_row_us(factory)
    column_guard.install()
    cost = guarded - bare
    print(f"Item insert, flushed per 100: {guarded:.1f} us CPU with the guard, {bare:.1f} us without")
    met = cost <= TARGET_US
    print(f"targets: guard_cost_per_row_us={cost:.1f} (<={TARGET_US:g}) {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
