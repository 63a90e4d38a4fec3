"""Checked values from supplier input (forms, CSV, cXML): each refusal names the field and the fix."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import DomainError
from procurement.models import InboundDocument

MAX_QUANTITY = 10_000_000
MAX_PRICE = Decimal("1000000000")


def quantity(raw: object, field: str, minimum: int = 0) -> int:
    text = str(raw).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or not minimum <= value <= MAX_QUANTITY:
        raise DomainError(lazy_gettext("%(field)s: %(text)s is not a whole number from %(minimum)s to "
                                       "%(max_quantity)s", field=field, text=repr(text[:30]), minimum=minimum,
                                       max_quantity=MAX_QUANTITY),
                          field=field)  # fmt: skip
    return int(value)


def price(raw: object, field: str) -> Decimal:
    text = str(raw).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > MAX_PRICE or value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise DomainError(lazy_gettext("%(field)s: %(text)s is not a price (0 to 1,000,000,000, at most 4 decimals)",
                                       field=field, text=repr(text[:30])),
                          field=field)  # fmt: skip
    return value


def day(raw: object, field: str) -> date:
    """A date from `2026-03-25` or a cXML date-time `2026-03-25T00:00:00+01:00` (its calendar date)."""
    text = str(raw).strip()
    try:
        value = datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise DomainError(
            lazy_gettext("%(field)s: %(text)s is not a date: use YYYY-MM-DD", field=field, text=repr(text[:30])),
            field=field,
        ) from None
    if not 2000 <= value.year <= 2100:
        raise DomainError(
            lazy_gettext("%(field)s: %(year)s is out of range (years 2000-2100)", field=field, year=value),
            field=field,
        )
    return value


def text(raw: object, field: str, limit: int) -> str:
    value = str(raw or "").strip()
    if len(value) > limit or "\x00" in value:
        raise DomainError(
            lazy_gettext("%(field)s: at most %(limit)s characters, no NUL", field=field, limit=limit), field=field
        )
    return value


def store(
    session: Session, channel: str, kind: str, content: bytes, clock: Clock, *, supplier_id: int | None = None,
    po_id: int | None = None, payload_id: str = "", outcome: str = "accepted", error: str = "",
) -> InboundDocument:  # fmt: skip
    """Keep a supplier document exactly as received, with its outcome (kept even when refused)."""
    doc = InboundDocument(channel=channel, kind=kind, supplier_id=supplier_id, po_id=po_id, payload_id=payload_id[:250],
                          content=content, outcome=outcome, error=error[:2000], received_at=clock.now())  # fmt: skip
    session.add(doc)
    session.flush()
    return doc
