"""Counting items by weight: two stable readings and a unit weight give a count, or a refusal with its reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from firmware_bridge.protocols import WeightReading


class CountRefusal(StrEnum):
    UNSTABLE = "unstable"  # a reading was taken while the load was moving
    OVERFLOW = "overflow"  # a reading was over/under range or the transmitter reported an error
    OUT_OF_TOLERANCE = "out_of_tolerance"  # the change is not close enough to a whole number of items
    BAD_UNIT_WEIGHT = "bad_unit_weight"  # the slot's unit weight is missing, zero or not a number


@dataclass(frozen=True, slots=True)
class WeightCount:
    """`items` > 0: taken out; < 0: put back; 0: no change. `refusal` is set (and `items` is None) when refused."""

    items: int | None
    delta_grams: float
    refusal: CountRefusal | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def taken(self) -> int:
        return max(self.items or 0, 0)

    @property
    def returned(self) -> int:
        return max(-(self.items or 0), 0)


def count_change(
    before: WeightReading, after: WeightReading, unit_grams: float, tolerance: float = 0.25
) -> WeightCount:
    """Items taken (positive) or returned (negative) between two readings.

    `tolerance` is the largest accepted distance from a whole number of items, as a fraction of one unit
    weight (0.25: a change of 2.2 units counts as 2, 2.4 is refused). Never guesses: unstable or overflowed
    readings and in-between changes are refused with the reason.
    """
    delta = before.grams - after.grams
    if not (isinstance(unit_grams, int | float) and math.isfinite(unit_grams) and unit_grams > 0):
        return WeightCount(None, delta, CountRefusal.BAD_UNIT_WEIGHT, f"unit weight {unit_grams!r} g is not positive")
    for label, reading in (("before", before), ("after", after)):
        if reading.overflow:
            return WeightCount(None, delta, CountRefusal.OVERFLOW, f"the {label} reading is over range or in error")
        if not reading.stable:
            return WeightCount(None, delta, CountRefusal.UNSTABLE, f"the {label} reading was not stable")
    units = delta / unit_grams
    items = round(units)
    off = abs(units - items)
    if off > tolerance:
        return WeightCount(
            None,
            delta,
            CountRefusal.OUT_OF_TOLERANCE,
            f"change of {delta:+.1f} g is {units:+.2f} items of {unit_grams:g} g; more than {tolerance:g} "
            "from a whole number (mixed items, something leaning on the bin, or a wrong unit weight?)",
        )
    return WeightCount(items, delta, None, f"{delta:+.1f} g = {units:+.2f} x {unit_grams:g} g")
