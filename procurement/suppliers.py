"""Suppliers and supplier items: create/update, the choice rule (valid → priority → best price break), pricing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError, NotFound
from core.languages import parse, supported
from procurement.models import PriceBreak, Supplier, SupplierItem


@dataclass(frozen=True, slots=True)
class Offer:
    """A supplier item with its price breaks (ascending min_qty), as the choice rule and the pricer see it."""

    supplier_item_id: int
    supplier_id: int
    item_id: int
    currency: str
    supplier_part_number: str
    description: str
    unit_of_measure: str
    pack_qty: int
    moq: int
    order_multiple: int
    lead_time_days: int
    priority: int
    valid_from: date | None
    valid_to: date | None
    last_price: Decimal | None
    breaks: tuple[tuple[int, Decimal], ...]

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def price_for(self, quantity: int) -> Decimal:
        """Unit price of the highest break whose min_qty ≤ quantity (the lowest break below all of them)."""
        if not self.breaks:
            raise DomainError(
                lazy_gettext(
                    "supplier item %(supplier_part_number)s has no price: add a price break",
                    supplier_part_number=self.supplier_part_number,
                ),
                field="price_breaks",
            )
        price = self.breaks[0][1]
        for min_qty, unit_price in self.breaks:
            if quantity >= min_qty:
                price = unit_price
        return price


def load_offers(session: Session, item_ids: Iterable[int] | None = None) -> dict[int, list[Offer]]:
    """Offers per item id, in two column queries (rows, then their breaks)."""
    si = SupplierItem
    query = (
        select(si.id, si.supplier_id, si.item_id, Supplier.currency, si.supplier_part_number, si.description,
               si.unit_of_measure, si.pack_qty, si.moq, si.order_multiple, si.lead_time_days, si.priority,
               si.valid_from, si.valid_to, si.last_price)
        .join(Supplier, Supplier.id == si.supplier_id)
        .where(Supplier.active.is_(True))
    )  # fmt: skip
    ids = None if item_ids is None else sorted(set(item_ids))
    rows: list[Any] = []
    if ids is None:
        rows = list(session.connection().execute(query).all())
    for start in range(0, len(ids or ()), 5000):
        rows.extend(session.connection().execute(query.where(si.item_id.in_(ids[start : start + 5000]))).all())  # type: ignore[index]
    breaks: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    si_ids = [row.id for row in rows]
    for start in range(0, len(si_ids), 5000):
        for si_id, min_qty, price in session.connection().execute(
            select(PriceBreak.supplier_item_id, PriceBreak.min_qty, PriceBreak.unit_price)
            .where(PriceBreak.supplier_item_id.in_(si_ids[start : start + 5000]))
            .order_by(PriceBreak.supplier_item_id, PriceBreak.min_qty)
        ):
            breaks[si_id].append((min_qty, price))
    offers: dict[int, list[Offer]] = defaultdict(list)
    for r in rows:
        offers[r.item_id].append(
            Offer(
                r.id, r.supplier_id, r.item_id, r.currency, r.supplier_part_number, r.description, r.unit_of_measure,
                r.pack_qty, r.moq, r.order_multiple, r.lead_time_days, r.priority, r.valid_from, r.valid_to,
                r.last_price, tuple(breaks.get(r.id, ())),
            )
        )  # fmt: skip
    return offers


def candidates(offers: Sequence[Offer], day: date) -> list[Offer]:
    """Valid offers with a price, of the highest priority present (ties kept for the price comparison)."""
    valid = [o for o in offers if o.valid_on(day) and o.breaks]
    if not valid:
        return []
    top = max(o.priority for o in valid)
    return sorted((o for o in valid if o.priority == top), key=lambda o: o.supplier_item_id)


def choose(offers: Sequence[Offer], quantity: int, day: date) -> Offer | None:
    """The choice rule: valid rows, highest priority, then the best price break for `quantity`."""
    return cheapest(candidates(offers, day), quantity)


def cheapest(best: Sequence[Offer], quantity: int) -> Offer | None:
    """Of `candidates(...)`, the best price break for `quantity` (a run computes the candidates once per item)."""
    if not best:
        return None
    if len(best) == 1:
        return best[0]
    return min(best, key=lambda o: (o.price_for(max(quantity, o.moq)), o.supplier_item_id))


# ---- maintenance services -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupplierData:
    code: str
    name: str
    email: str = ""
    currency: str = "USD"
    payment_terms: str = "Net 30"
    address: str = ""
    language: str = ""  # of its PO PDF and e-mail ("" = English); checked by save_supplier


def checked_language(raw: object) -> str:
    """A supplier language to store, or a 422 naming the field and every supported code."""
    code = parse(raw)
    if code is None:
        said = lazy_gettext(
            "%(field)s %(given)s is not a supported language: use one of %(codes)s, or leave it empty",
            field="language",
            given=repr(str(raw)[:16]),
            codes=supported(),
        )
        raise DomainError(said, field="language", code="invalid", status=422)
    return code


def save_supplier(session: Session, data: SupplierData, actor: str) -> int:
    if not data.code.strip():
        raise DomainError(lazy_gettext("supplier code is required"), field="code")
    if len(data.currency) != 3 or not data.currency.isalpha():
        raise DomainError(lazy_gettext("currency %(given)s must be a 3-letter ISO code such as USD",
                                       given=repr(data.currency)), field="currency")  # fmt: skip
    if data.email and "@" not in data.email:
        raise DomainError(lazy_gettext("e-mail %(given)s has no @: give the supplier's order address",
                                       given=repr(data.email)), field="email")  # fmt: skip
    language = checked_language(data.language)
    row = session.scalar(select(Supplier).where(Supplier.code == data.code.strip()))
    before = None if row is None else {"name": row.name, "email": row.email, "currency": row.currency,
                                       "language": row.language}  # fmt: skip
    if row is None:
        row = Supplier(code=data.code.strip())
        session.add(row)
    row.name, row.email, row.currency = data.name, data.email, data.currency.upper()
    row.payment_terms, row.address, row.language = data.payment_terms, data.address, language
    session.flush()
    audit.record(session, actor, "supplier.save", "supplier", row.id, before=before,
                 after={"name": row.name, "language": language})  # fmt: skip
    return row.id


def supplier_by_code(session: Session, code: str) -> Supplier:
    row = session.scalar(select(Supplier).where(Supplier.code == code))
    if row is None:
        raise NotFound(lazy_gettext("no supplier with code %(code)s", code=repr(code)), field="supplier_code")
    return row


def set_price_breaks(session: Session, supplier_item_id: int, breaks: Sequence[tuple[int, Decimal]]) -> None:
    for old in session.scalars(select(PriceBreak).where(PriceBreak.supplier_item_id == supplier_item_id)):
        session.delete(old)
    session.flush()
    for min_qty, price in sorted(breaks):
        session.add(PriceBreak(supplier_item_id=supplier_item_id, min_qty=min_qty, unit_price=price))
