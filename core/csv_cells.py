"""Cells of the CSV files people open in a spreadsheet: text that would run there as a formula is defused.

A cell starting with = + - or @ (or a tab or carriage return, which some spreadsheets skip before reading one of
those) runs as a formula when the file is opened: "CSV injection", with text a person typed (a worker's name, a
comment, a supplier's part number) as the payload. Such a cell is written with a leading apostrophe, which
spreadsheets take as "this is text". A number ("-5", "+3.50") is left as it is: it runs as nothing.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defused(text: str) -> str:
    """`text` as a CSV cell that a spreadsheet shows as text rather than runs."""
    if text[:1] not in FORMULA_STARTS or _is_number(text):
        return text
    return "'" + text


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except (InvalidOperation, ValueError):
        return False
