"""core.validation's field rules and core.column_guard's flush check, with literal cases and hypothesis."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Item, Site
from core.validation import Bool, Dec, FieldProblem, Int, Moment, Number, Text, ValidationError, schema

QUANTITY = Int(minimum=1, maximum=999, default=1)
MONEY = Dec(minimum=Decimal(0))


@pytest.mark.parametrize("raw", ["2.7", 2.7, 1e20, "1e20", "1e3", float("nan"), float("inf"), "NaN", True, [], {},
                                 "0x10", "١٢", 0, 1000, "-1", 2**70])  # fmt: skip
def test_a_quantity_is_a_whole_number_in_range_never_truncated(raw: object) -> None:
    with pytest.raises(FieldProblem, match="quantity must be a whole number from 1 to 999"):
        QUANTITY.parse("quantity", raw)


@pytest.mark.parametrize(("raw", "value"), [("2", 2), (" 7 ", 7), (3, 3), (4.0, 4), ("", 1), (None, 1), ("+5", 5)])
def test_good_quantities(raw: object, value: int) -> None:
    assert QUANTITY.parse("quantity", raw) == value


@given(st.one_of(st.integers(), st.floats(), st.text(max_size=30), st.booleans(), st.none()))
@settings(max_examples=300)
def test_an_int_field_returns_an_int_in_range_or_refuses(raw: object) -> None:
    try:
        value = QUANTITY.parse("quantity", raw)
    except FieldProblem as problem:
        assert str(problem).startswith("quantity")
        return
    assert type(value) is int and 1 <= value <= 999
    if isinstance(raw, float):
        assert raw == value  # never truncated


@pytest.mark.parametrize("raw", ["-5", "1e308", "NaN", "Infinity", "-0.01", "10000000000", "1.23456", "abc", "1e400"])
def test_money_refuses_negative_absurd_and_non_finite(raw: str) -> None:
    with pytest.raises(FieldProblem):
        MONEY.parse("unit_cost", raw)


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.floats() | st.text(max_size=20))
def test_money_fits_numeric_14_4_or_refuses(raw: object) -> None:
    try:
        value = MONEY.parse("unit_cost", raw)
    except FieldProblem:
        return
    if value is not None:
        assert value.is_finite() and Decimal(0) <= value < Decimal(10) ** 10
        assert -value.normalize().as_tuple().exponent <= 4  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "fix"),
    [("a\x00b", "NUL"), ("a\x07", "U+0007"), ("a\nb", "one line"), ("\ud800", "unpaired surrogate"),
     ("\x9b", "U+009B"), ("x" * 65, "shorten it to 64")],
)  # fmt: skip
def test_text_refuses_what_no_column_may_hold(raw: str, fix: str) -> None:
    with pytest.raises(FieldProblem, match=re.escape(fix)):
        Text(max_length=64).parse("sku", raw)


@given(st.text(max_size=80))
def test_text_comes_back_nfc_and_clean_or_refused(raw: str) -> None:
    try:
        value = Text(max_length=64).parse("name", raw)
    except FieldProblem:
        return
    assert unicodedata.is_normalized("NFC", value) and "\x00" not in value and len(value) <= 64


def test_combining_characters_are_normalised() -> None:
    assert Text().parse("name", "Cafe\u0301") == "Café"


def test_schema_collects_every_bad_field() -> None:
    form = schema(sku=Text(max_length=8, required=True), unit_cost=MONEY, active=Bool(), weight=Number(minimum=0))
    with pytest.raises(ValidationError) as caught:
        form.parse({"sku": "", "unit_cost": "-5", "active": "maybe", "weight": "nan"})
    assert set(caught.value.errors) == {"sku", "unit_cost", "active", "weight"}
    assert caught.value.status == 422 and caught.value.field == "sku"


def test_moment_accepts_dates_and_times_as_utc() -> None:
    assert Moment().parse("until", "2026-03-01").isoformat() == "2026-03-01T00:00:00+00:00"
    assert Moment().parse("until", "2026-03-01T14:00+01:00").hour == 13
    for bad in ("2026-13-45", "0001-01-01", "tomorrow", "x" * 100):
        with pytest.raises(FieldProblem, match="until must be a date"):
            Moment().parse("until", bad)


# ---- the model-layer guard ---------------------------------------------------------------------


def test_guard_names_each_column_the_database_would_refuse(session: Session) -> None:
    session.add(Item(sku="x" * 100_000, name="a\x00b", unit_cost=Decimal("1e308"), category="\ud800"))
    with pytest.raises(ValidationError) as caught:
        session.flush()
    assert set(caught.value.errors) == {"sku", "name", "unit_cost", "category"}
    assert "shorten it to 64" in caught.value.errors["sku"]
    session.rollback()


def test_guard_checks_changed_values_and_integer_ranges(session_factory: sessionmaker[Session]) -> None:
    from vending.models import Machine, Slot

    with session_factory() as s:
        site = Site(code="S1", name="one")
        s.add(site)
        s.flush()
        machine = Machine(code="M1", name="m", site_id=site.id, kind="locker_bank")
        s.add(machine)
        s.flush()
        slot = Slot(machine_id=machine.id, code="A1", capacity=2**40, unit_weight_g=math.inf)
        s.add(slot)
        with pytest.raises(ValidationError) as caught:
            s.flush()
        assert set(caught.value.errors) == {"capacity", "unit_weight_g"}
        s.rollback()
        s.add(Item(sku="OK", name="fine", unit_cost=Decimal("2.5")))
        s.commit()
        item = s.scalars(select(Item).where(Item.sku == "OK")).one()
        item.name = "n" * 201
        with pytest.raises(ValidationError, match="name is 201 characters long"):
            s.flush()
        s.rollback()
        assert s.scalars(select(Item.name).where(Item.sku == "OK")).one() == "fine"
