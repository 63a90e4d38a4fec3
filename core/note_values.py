"""Typed values inside stored notes (a number, an amount of money, a moment, a day), formatted when shown.

A note (core/notes.py) keeps its values as they were given, not as English text, so a German reader sees
"15.660,00" and "07.12.2026 15:43 MEZ" where an English one sees "15660.00" and "2026-12-07 14:43 UTC". Each value
knows its stored JSON form, its English form (logs, CSV, comparisons) and its shown form, which goes through the
formats web installs (`install`: Babel's, in the request's language and the site's time zone). Without them,
or outside a request, the English form results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(slots=True)
class _Formats:
    number: Callable[[Decimal, int], str] | None = None
    money: Callable[[Decimal, str], str] | None = None
    moment: Callable[[datetime], str] | None = None
    day: Callable[[date], str] | None = None


_formats = _Formats()


def install(number: Callable[[Decimal, int], str], money: Callable[[Decimal, str], str],
            moment: Callable[[datetime], str], day: Callable[[date], str]) -> None:  # fmt: skip
    """Make typed values follow the reader's language and site zone (web calls this with its formatters)."""
    _formats.number, _formats.money, _formats.moment, _formats.day = number, money, moment, day


@dataclass(frozen=True, slots=True)
class Number:
    """A decimal shown with the digits it was written with (`Number.of(4.23, 1)` is 4.2). It keeps its English text
    ("15660.00"): a replenishment run writes tens of thousands of them and shows few."""

    text: str

    @classmethod
    def of(cls, value: float | Decimal | int, digits: int, signed: bool = False) -> Number:
        """`value` with `digits` after the point; `signed` writes a plus before a positive value (a change)."""
        return cls(f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}")

    @classmethod
    def short(cls, value: float) -> Number:
        """`value` in its shortest form, as `{value:g}` writes it (2.5, 10), never with an exponent."""
        return cls(format(Decimal(f"{value:g}"), "f"))

    def english(self) -> str:
        return self.text

    def shown(self) -> str:
        if _formats.number is None:
            return self.text
        point = self.text.find(".")
        shown = _formats.number(Decimal(self.text), 0 if point < 0 else len(self.text) - point - 1)
        return "+" + shown if self.text.startswith("+") else shown

    def stored(self) -> dict[str, str]:
        return {"n": self.text}


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def english(self) -> str:
        return f"{self.currency} {self.amount:.2f}"

    def shown(self) -> str:
        return _formats.money(self.amount, self.currency) if _formats.money else self.english()

    def stored(self) -> dict[str, str]:
        return {"a": format(self.amount, "f"), "c": self.currency}


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time, stored in UTC and shown in the site's zone with the zone's name."""

    at: datetime

    def english(self) -> str:
        return f"{_utc(self.at):%Y-%m-%d %H:%M} UTC"

    def shown(self) -> str:
        return _formats.moment(_utc(self.at)) if _formats.moment else self.english()

    def stored(self) -> dict[str, str]:
        return {"t": _utc(self.at).strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass(frozen=True, slots=True)
class Day:
    day: date

    def english(self) -> str:
        return f"{self.day:%Y-%m-%d}"

    def shown(self) -> str:
        return _formats.day(self.day) if _formats.day else self.english()

    def stored(self) -> dict[str, str]:
        return {"d": self.english()}


TypedValue = Number | Money | Moment | Day
TYPED = (Number, Money, Moment, Day)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)  # naive times in the books are UTC


TYPED_OF: dict[type, Callable[[Any], TypedValue]] = {
    Decimal: lambda value: Number(format(value, "f")),
    datetime: Moment,
    date: Day,
}  # the Python values `Note.of` keeps typed, by exact type (an int or a str is looked up and passed by quickly)


def decoded(data: dict[str, Any]) -> TypedValue | None:
    """The typed value a stored JSON object holds, or None when it holds none (or a broken one)."""
    try:
        if "n" in data:
            return Number(format(_amount(data["n"]), "f"))
        if "a" in data:
            return Money(_amount(data["a"]), str(data.get("c", ""))[:8])
        if "t" in data:
            return Moment(datetime.fromisoformat(str(data["t"]).replace("Z", "+00:00")))
        if "d" in data:
            return Day(date.fromisoformat(str(data["d"])))
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return None


def _amount(stored: object) -> Decimal:
    """A stored decimal, refused (ValueError) when it is not a plain finite number a page can print."""
    value = Decimal(str(stored))
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or abs(exponent) > 12 or value.adjusted() > 30:
        raise ValueError(f"not a number a note can show: {stored!r}")
    return value
