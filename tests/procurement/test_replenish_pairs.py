"""The pairs a replenishment reads: on SQLite (no statistics), each query starts where its index says it should."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from procurement.models import StockView
from procurement.replenish_pairs import _HIGHEST, _highest, _reorder_point_pairs, _stock_rule_pairs
from tests.procurement.conftest import World


def _plan(session: Session, query: Any) -> str:
    conn = session.connection()
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    return "\n".join(str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def _sqlite_session(world: World) -> Session:
    session = world.session()
    if session.get_bind().dialect.name != "sqlite":
        session.close()
        pytest.skip("query plans are SQLite's; PostgreSQL plans from its statistics")
    return session


def test_a_full_run_reads_its_bounds_from_the_partial_indexes_and_the_low_stock_from_its_index(world: World) -> None:
    with _sqlite_session(world) as s:
        tops = _highest(s)
        assert tops.trigger is not None  # the world's GLOVE, WIPE and DRILL have min/max policies
        highest = _plan(s, _HIGHEST)
        for index in ("ix_proc_reorder_policy_top_min", "ix_proc_reorder_policy_top_level",
                      "ix_proc_reorder_policy_top_service"):  # fmt: skip
            assert index in highest, highest
        stock = _plan(s, _stock_rule_pairs(tops.trigger))
        assert "ix_proc_stock_view_on_hand (on_hand<?)" in stock.splitlines()[0], stock


def test_an_incremental_run_starts_from_its_dirty_stock_rows(world: World) -> None:
    """An index that starts with the policy kind once made SQLite read every reorder-point policy for 100 dirty pairs
    (5 s at 400,000 policies): both queries must start from the stock rows by id."""
    with _sqlite_session(world) as s:
        ids = list(s.scalars(select(StockView.id)))[:3] or [1]
        for query in (_stock_rule_pairs(20), _reorder_point_pairs(0.95, 14, ids)):
            plan = _plan(s, query.where(StockView.id.in_(ids)))
            assert "SCAN proc_reorder_policy" not in plan, plan
            assert "SEARCH proc_reorder_policy USING INDEX sqlite_autoindex" in plan, plan
            steps = [line for line in plan.splitlines() if "proc_reorder_policy" in line or "proc_stock_view" in line]
            assert "proc_stock_view USING INTEGER PRIMARY KEY" in steps[0], plan
