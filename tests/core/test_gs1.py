"""GS1 element strings: bracketed and raw (FNC1 as GS) forms, check digits, dates, and hostile scans.

Example data strings are GS1's own documentation examples: GTIN 09521234543213 and SSCC 095287654321012346
(GS1 Barcode Syntax Resource / syntax engine docs), the raw DataBar Expanded string
01095212345432133103000123, and EAN-13 4006381333931 (the check-digit example widely used for EAN-13).
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import gs1

TODAY = date(2026, 12, 6)


def test_bracketed_label_with_gtin_expiry_and_batch() -> None:
    label = gs1.parse("(01)09521234543213(17)270131(10)ABC123", today=TODAY)
    assert (label.gtin, label.expiry, label.batch) == ("09521234543213", date(2027, 1, 31), "ABC123")


def test_raw_string_with_symbology_identifier_and_predefined_lengths() -> None:
    label = gs1.parse("]C101095212345432133103000123", today=TODAY)
    assert label.gtin == "09521234543213" and label.fields["3103"] == "000123"


def test_raw_variable_fields_end_at_group_separator() -> None:
    label = gs1.parse("]d20109521234543213172612001012A\x1d3712\x1d241AC-GL", today=TODAY)
    assert (label.batch, label.count, label.customer_part_number) == ("12A", 12, "AC-GL")
    assert label.expiry == date(2026, 12, 31)  # day 00 is the last day of the month


def test_sscc_and_gtin_check_digits() -> None:
    assert gs1.parse("(00)095287654321012346").sscc == "095287654321012346"
    assert gs1.valid_gtin("4006381333931") and not gs1.valid_gtin("4006381333932")
    assert gs1.normalise_gtin("4006381333931") == "04006381333931"


def test_century_rule_keeps_dates_within_fifty_years() -> None:
    assert gs1.parse("(17)761231", today=TODAY).expiry == date(2076, 12, 31)
    assert gs1.parse("(17)771231", today=TODAY).expiry == date(1977, 12, 31)


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("(01)09521234543214", "wrong check digit (expected 3)"),
        ("(17)261301", "month 13 does not exist"),
        ("(17)260230", "day 30 does not exist in 2026-02"),
        ("(01)123", "exactly 14 characters"),
        ("01095212345432", "needs 14 characters"),
        ("(10)A\x00B", "control characters"),
        ("(37)1e5", "must be digits"),
        ("(10)A(10)B", "appears twice"),
        ("junk(01)09521234543213", "expected an Application Identifier"),
        ("(01)09521234543213 trailing", "exactly 14 characters, the scan has 23"),
        ("x" * 301, "at most 300"),
    ],
)
def test_bad_scans_name_the_problem(scan: str, message: str) -> None:
    with pytest.raises(gs1.Gs1Error, match=message.replace("(", r"\(").replace(")", r"\)")):
        gs1.parse(scan, today=TODAY)


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet=st.sampled_from("0123456789()\x1dABC]d2C1-"), max_size=60))
def test_any_scan_parses_or_raises_gs1_error(scan: str) -> None:
    """Reproduce a failure with the printed falsifying example passed to gs1.parse."""
    try:
        label = gs1.parse(scan, today=TODAY)
    except gs1.Gs1Error as exc:
        assert exc.field == "scan" and str(exc)
    else:
        assert label.fields
