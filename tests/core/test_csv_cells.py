"""core.csv_cells: a cell a spreadsheet would run as a formula is written as text; numbers and plain text stay."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.csv_cells import FORMULA_STARTS, defused


def test_formulas_get_an_apostrophe_and_numbers_do_not() -> None:
    assert defused('=HYPERLINK("http://x","y")') == "'=HYPERLINK(\"http://x\",\"y\")"
    assert defused("@SUM(A1)") == "'@SUM(A1)"
    assert defused("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert defused("\t=1+1") == "'\t=1+1"
    assert defused("-Infinity") == "'-Infinity"  # Decimal reads it, but it is no number a spreadsheet keeps
    for number in ("-5", "+3.50", "-1e5", "12"):
        assert defused(number) == number
    for plain in ("", "Gloves", "a=b", "PO-000010"):
        assert defused(plain) == plain


@given(st.text(max_size=30))
def test_no_cell_starts_a_formula_unless_it_is_a_number(text: str) -> None:
    cell = defused(text)
    assert cell == text or cell == "'" + text
    if cell[:1] in FORMULA_STARTS:
        assert Decimal(cell).is_finite()
