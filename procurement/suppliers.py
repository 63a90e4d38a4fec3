"""Suppliers and supplier items: create/update, the choice rule (valid → priority → best price break), pricing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError, NotFound
from core.languages import parse, supported
from core.prepared import FastWork, Prepared
from procurement.models import PriceBreak, Supplier, SupplierItem


class Offer(NamedTuple):
    """A supplier item with its price breaks (ascending min_qty), as the choice rule and the pricer see it.

    An immutable named tuple rather than a frozen dataclass: a full replenishment builds one for each of some 20,000
    supplier items, and a tuple is made several times faster."""

    supplier_item_id: int
    supplier_id: int
    item_id: int
    currency: str
    supplier_part_number: str
    pack_qty: int
    moq: int
    order_multiple: int
    lead_time_days: int
    priority: int
    valid_from: date | None
    valid_to: date | None
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


_SUPPLIER_ITEM = SupplierItem
_OFFER_ROWS = (
    select(_SUPPLIER_ITEM.id, _SUPPLIER_ITEM.supplier_id, _SUPPLIER_ITEM.item_id, Supplier.currency,
           _SUPPLIER_ITEM.supplier_part_number, _SUPPLIER_ITEM.pack_qty, _SUPPLIER_ITEM.moq,
           _SUPPLIER_ITEM.order_multiple, _SUPPLIER_ITEM.lead_time_days, _SUPPLIER_ITEM.priority,
           _SUPPLIER_ITEM.valid_from, _SUPPLIER_ITEM.valid_to)
    .join(Supplier, Supplier.id == _SUPPLIER_ITEM.supplier_id)
    .where(Supplier.active.is_(True))
)  # the Offer's fields but its breaks, in order  # fmt: skip
_BREAK_ROWS = select(PriceBreak.supplier_item_id, PriceBreak.min_qty, PriceBreak.unit_price).order_by(
    PriceBreak.supplier_item_id, PriceBreak.min_qty
)
# Every offer of every active supplier and every price break: a full replenishment reads them all, as plain rows.
_ALL_OFFER_ROWS, _ALL_BREAK_ROWS = Prepared(_OFFER_ROWS), Prepared(_BREAK_ROWS)


class Offers(Mapping[int, list[Offer]]):
    """Offers per item id, kept as the rows they come from: an item's Offer objects are built when it is first
    looked up (a full replenishment asks only for the items that need an order)."""

    def __init__(self, rows: dict[int, list[Sequence[Any]]], breaks: dict[int, list[tuple[int, Decimal]]]) -> None:
        self._rows, self._breaks = rows, breaks
        self._built: dict[int, list[Offer]] = {}

    def __getitem__(self, item_id: int) -> list[Offer]:
        built = self._built.get(item_id)
        if built is None:
            breaks = self._breaks
            built = self._built[item_id] = [_offer(row, breaks) for row in self._rows[item_id]]  # KeyError: none
        return built

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows


def _offer(r: Sequence[Any], breaks: dict[int, list[tuple[int, Decimal]]]) -> Offer:
    """The Offer of one row of `_OFFER_ROWS`."""
    return Offer(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], tuple(breaks.get(r[0], ())))


def load_offers(session: Session, item_ids: Iterable[int] | None = None) -> Offers:
    """Offers per item id, in two column queries (rows, then their breaks)."""
    rows: list[Sequence[Any]]
    breaks: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    if item_ids is None:
        work = FastWork.of_session(session)
        rows = list(work.all(_ALL_OFFER_ROWS))
        for si_id, min_qty, price in work.all(_ALL_BREAK_ROWS):
            breaks[si_id].append((min_qty, price))
    else:
        rows, ids = [], sorted(set(item_ids))
        conn = session.connection()
        for start in range(0, len(ids), 5000):
            rows.extend(conn.execute(_OFFER_ROWS.where(_SUPPLIER_ITEM.item_id.in_(ids[start : start + 5000]))).all())
        si_ids = [row[0] for row in rows]
        for start in range(0, len(si_ids), 5000):
            batch = _BREAK_ROWS.where(PriceBreak.supplier_item_id.in_(si_ids[start : start + 5000]))
            for si_id, min_qty, price in conn.execute(batch):
                breaks[si_id].append((min_qty, price))
    per_item: dict[int, list[Sequence[Any]]] = defaultdict(list)
    for row in rows:
        per_item[row[2]].append(row)
    return Offers(dict(per_item), breaks)


def candidates(offers: Sequence[Offer], day: date) -> list[Offer]:
    """Valid offers with a price, of the highest priority present (ties kept for the price comparison)."""
    if len(offers) == 1:  # most items have one supplier item
        only = offers[0]
        return [only] if only.breaks and only.valid_on(day) else []
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
