"""Documents for a supplier in the supplier's language: the PO PDF's and e-mail's words, dates, numbers and money.

Whoever sends the order (a German buyer, a background retry with no request at all), the supplier reads their own
language (`Supplier.language`, "" = English). Messages come from the shipped catalogues (core.languages) and are
marked with `words.gettext("...")` so the translation check collects them; dates and numbers are formatted by babel
for that language. English keeps the documents' original forms (ISO dates, "USD 1,234.56"), so an English PO's
bytes do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from core.languages import SHIPPED, catalogue

DAY_PATTERN = {"de": "dd.MM.y", "es": "dd/MM/y"}  # the same forms the web pages use (web/i18n.py)


@dataclass(frozen=True, slots=True)
class Words:
    """One supplier language: `gettext` for messages, `day`, `moment`, `number` and `money` for values."""

    code: str = "en"

    def gettext(self, message: str, **values: object) -> str:
        text = catalogue(self.code).gettext(message)
        return text % values if values else text

    def day(self, value: date | datetime) -> str:
        if self.code == "en":
            return f"{value:%Y-%m-%d}"
        return babel_dates.format_date(value, DAY_PATTERN.get(self.code, "medium"), locale=self.code)

    def moment(self, value: datetime) -> str:
        """A UTC time with its zone named ("2026-03-02 09:00 UTC", "02.03.2026 09:00 UTC")."""
        return f"{self.day(value)} {value:%H:%M} UTC"

    def number(self, value: Decimal, digits: int = 2) -> str:
        if self.code == "en":
            return f"{value:,.{digits}f}"
        return babel_numbers.format_decimal(value, "#,##0." + "0" * digits, locale=self.code)

    def money(self, value: Decimal, currency: str) -> str:
        if self.code == "en":
            return f"{currency} {value:,.2f}"
        return babel_numbers.format_currency(value, currency, locale=self.code)


def words_for(code: str | None) -> Words:
    """The supplier's language, or English for "" or a code no longer shipped."""
    return Words(code if code in SHIPPED else "en")
