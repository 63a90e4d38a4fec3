"""Known answers for the reorder maths (PRODUCT.md) and the rounding rules; pure functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.notes import Note
from procurement.policy import (
    AUTO_ROP,
    MIN_MAX,
    REORDER_LEVEL,
    PolicyInput,
    decide,
    demand_stats,
    eoq,
    line_reason,
    reorder_point,
    round_order,
    safety_stock,
    z_for,
)


def test_min_max_known_answer_with_reason() -> None:
    need = decide(PolicyInput(MIN_MAX, position=8, min_qty=10, max_qty=40))
    rounded = round_order(need.quantity, pack_qty=6)
    assert (need.quantity, rounded.quantity) == (32, 36)
    assert line_reason(need, rounded).english() == "position 8 < min 10 → 32 → 36, pack of 6"


def test_min_max_at_or_above_min_orders_nothing() -> None:
    assert decide(PolicyInput(MIN_MAX, position=10, min_qty=10, max_qty=40)).quantity == 0


@pytest.mark.parametrize(("projected", "expected"), [(45, 20), (20, 30), (50, 0)])
def test_reorder_level_known_answers(projected: int, expected: int) -> None:
    need = decide(PolicyInput(REORDER_LEVEL, position=projected, reorder_level=50, reorder_qty=20))
    assert need.quantity == expected


def test_safety_stock_and_reorder_point_known_answers() -> None:
    assert round(safety_stock(12, 14, 1.65)) == 74
    assert round(reorder_point(50, 12, 14, 1.65)) == 774


def test_eoq_known_answer() -> None:
    assert eoq(1300, 8, 0.225) == Decimal("304.05")


def test_service_level_gives_z() -> None:
    assert z_for(0.95) == pytest.approx(1.645, abs=0.001)
    with pytest.raises(ValueError, match="service level"):
        z_for(1.2)


def test_auto_rop_orders_below_the_point_and_says_why() -> None:
    need = decide(PolicyInput(AUTO_ROP, position=700, mean_daily=50, sigma_daily=12, lead_time_days=14,
                              service_level=0.95, eoq=304.05))  # fmt: skip
    assert need.quantity == 305  # EOQ rounded up; already lifts the position above the point
    assert "reorder point 774" in need.reason.english() and "EOQ 304.05" in need.reason.english()
    assert decide(PolicyInput(AUTO_ROP, position=800, mean_daily=50, sigma_daily=12, lead_time_days=14)).quantity == 0


def test_demand_stats_from_sums() -> None:
    mean, sigma = demand_stats(total=10 + 20 + 30, total_sq=100 + 400 + 900, days=3)
    assert mean == 20 and sigma == pytest.approx(8.165, abs=0.001)
    assert demand_stats(0, 0, 0) == (0.0, 0.0)


def test_rounding_moq_and_multiple() -> None:
    assert round_order(5, pack_qty=1, order_multiple=1, moq=12).quantity == 12
    r = round_order(32, pack_qty=6, order_multiple=4, moq=50)
    assert r.quantity == 60 and r.reason is not None
    assert r.reason.english() == "→ 36, pack of 6 and multiple of 4 → 60, MOQ 50"
    with pytest.raises(ValueError, match="pack_qty"):
        round_order(5, pack_qty=0)


@settings(max_examples=200, derandomize=True)
@given(st.integers(1, 10_000), st.integers(1, 50), st.integers(1, 20), st.integers(1, 500))
def test_rounding_never_zero_never_below_need(qty: int, pack: int, multiple: int, moq: int) -> None:
    r = round_order(qty, pack, multiple, moq)
    assert r.quantity >= max(qty, moq) and r.quantity % pack == 0 and r.quantity % multiple == 0


def _as_note_of_builds_it(note: Note) -> Note:
    """The same note rebuilt through Note.of (its values sorted, numbers as text, typed values kept)."""
    if note.plain or not note.values:
        return note
    return Note.of(note.message, **{k: _as_note_of_builds_it(v) if isinstance(v, Note) else v for k, v in note.values})


@settings(max_examples=300, derandomize=True)
@given(st.integers(-50, 500), st.floats(0, 200), st.floats(0, 80), st.integers(0, 60),
       st.sampled_from([0.9, 0.95, 0.99]), st.integers(1, 60), st.none() | st.floats(0.5, 5000))  # fmt: skip
def test_reorder_point_reasons_are_the_notes_note_of_builds(position: int, mean: float, sigma: float, lead: int,
                                                            level: float, cover: int, eoq_qty: float | None) -> None:
    """The reorder-point reason is built by hand for speed (a full run writes thousands): it must be the very note
    Note.of would build, or its stored JSON would differ from a note built the ordinary way."""
    need = decide(PolicyInput(AUTO_ROP, position=position, mean_daily=mean, sigma_daily=sigma, lead_time_days=lead,
                              service_level=level, cover_days=cover, eoq=eoq_qty))  # fmt: skip
    assert need.reason == _as_note_of_builds_it(need.reason)
    assert need.reason.encode() == _as_note_of_builds_it(need.reason).encode()
