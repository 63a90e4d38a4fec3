"""CSV import of supplier catalogues: every good row is saved, every bad row gets an error naming field and fix."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, gs1
from core.csv_rows import CsvProblem, problems_of, read_rows
from core.models import Item
from core.validation import Day, Dec, FieldProblem, Int, Text, ValidationError, schema
from procurement.models import Supplier, SupplierItem
from procurement.suppliers import set_price_breaks

COLUMNS = (
    "supplier_code",
    "sku",
    "supplier_part_number",
    "description",
    "pack_qty",
    "unit_of_measure",
    "moq",
    "order_multiple",
    "lead_time_days",
    "priority",
    "valid_from",
    "valid_to",
    "price_breaks",
    "unspsc",
    "gtin",
)
REQUIRED = ("supplier_code", "sku", "supplier_part_number", "price_breaks")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based line number in the file, header = 1
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    errors: tuple[RowError, ...]


class _RowProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


MAX_QTY = 10_000_000
PRICE = Dec(minimum=Decimal(0), example="2.50")
ROW = schema(
    supplier_code=Text.column(Supplier.code, required=True, hint="ACME"),
    sku=Text.column(Item.sku, required=True, hint="BOLT-M8"),
    supplier_part_number=Text.column(SupplierItem.supplier_part_number, required=True, hint="AC-1001"),
    description=Text.column(SupplierItem.description),
    pack_qty=Int(minimum=1, maximum=MAX_QTY, default=1),
    unit_of_measure=Text.column(SupplierItem.unit_of_measure, default="EA"),
    moq=Int(minimum=1, maximum=MAX_QTY, default=1),
    order_multiple=Int(minimum=1, maximum=MAX_QTY, default=1),
    lead_time_days=Int(minimum=0, maximum=3650, default=7),
    priority=Int(minimum=-1000, maximum=1000, default=0),
    valid_from=Day(),
    valid_to=Day(),
    price_breaks=Text(max_length=2000, required=True, hint="1:2.50;100:2.10"),
)


def parse_breaks(raw: str) -> list[tuple[int, Decimal]]:
    """'1:2.50;100:2.10' → [(1, 2.50), (100, 2.10)]; prices ≥ 0 that fit the money column."""
    breaks: list[tuple[int, Decimal]] = []
    for part in (p.strip() for p in raw.split(";")):
        if not part:
            continue
        qty_text, sep, price_text = part.partition(":")
        try:
            if not sep:
                raise FieldProblem(lazy_gettext("no colon"))
            qty = Int(minimum=1, maximum=MAX_QTY, required=True).parse("quantity", qty_text)
            price = PRICE.parse("price", price_text)
        except FieldProblem as problem:
            raise _RowProblem(
                "price_breaks", lazy_gettext(
                        "price break %(part)s must be qty:price with qty ≥ 1 and a price ≥ 0 (e.g. "
                        "1:2.50;100:2.10): %(problem)s",
                        part=repr(part[:40]),
                        problem=problem,
                    )
            ) from None
        if price is None:
            raise _RowProblem("price_breaks", lazy_gettext(
                    "price break %(part)s has no price: write it like 1:2.50",
                    part=repr(part[:40]),
                ))
        breaks.append((qty, price))
    if not breaks:
        raise _RowProblem("price_breaks", lazy_gettext("price_breaks is empty: give at least one qty:price"))
    if len({q for q, _ in breaks}) != len(breaks):
        raise _RowProblem("price_breaks", lazy_gettext("price_breaks repeats a quantity: give each min quantity once"))
    return sorted(breaks)


def import_catalog(session: Session, text: str, actor: str) -> ImportResult:
    """Import rows of COLUMNS; each row in its own savepoint so one bad row never loses the others."""
    try:
        rows = list(read_rows(text, REQUIRED, COLUMNS))
    except ValidationError as exc:
        return ImportResult(0, 0, (RowError(1, exc.field or "file", exc.errors[exc.field or "file"]),))
    created = updated = 0
    errors: list[RowError] = []
    suppliers = {code: sid for sid, code in session.execute(select(Supplier.id, Supplier.code))}
    for row in rows:
        if isinstance(row, CsvProblem):
            errors.append(RowError(row.line, row.column, row.message))
            continue
        try:
            values = _parse_row(session, row.values, suppliers)
            with session.begin_nested():
                was_new = _upsert(session, values)
        except _RowProblem as problem:
            errors.append(RowError(row.line, problem.field, str(problem)))
            continue
        except Exception as exc:  # reported for this row only; the other rows still import
            errors.extend(RowError(p.line, p.column, p.message) for p in problems_of(row.line, exc))
            continue
        created, updated = created + was_new, updated + (not was_new)
    audit.record(
        session, actor, "catalog.import", "supplier_item", "*", after={"created": created, "updated": updated,
                                                                       "errors": len(errors)},
    )  # fmt: skip
    return ImportResult(created, updated, tuple(errors))


def _parse_row(session: Session, row: dict[str, str], suppliers: dict[str, int]) -> dict[str, Any]:
    values = ROW.parse(row)
    code, sku, breaks = values.pop("supplier_code"), values.pop("sku"), values.pop("price_breaks")
    if code not in suppliers:
        raise _RowProblem("supplier_code", lazy_gettext(
                "unknown supplier %(code)s: create the supplier first",
                code=repr(code),
            ))
    item_id = session.scalar(select(Item.id).where(Item.sku == sku))
    if item_id is None:
        raise _RowProblem("sku", lazy_gettext(
                "unknown SKU %(sku)s: add the item before importing its supplier rows",
                sku=repr(sku),
            ))
    if values["valid_from"] and values["valid_to"] and values["valid_to"] < values["valid_from"]:
        raise _RowProblem("valid_to", lazy_gettext("valid_to is before valid_from"))
    values = values | {"supplier_id": suppliers[code], "item_id": item_id, "breaks": parse_breaks(breaks)}
    unspsc = (row.get("unspsc") or "").strip()
    if unspsc:  # an absent or empty cell keeps the code already set (by hand or an earlier catalogue)
        if not (unspsc.isdigit() and len(unspsc) == 8):
            raise _RowProblem("unspsc", lazy_gettext(
                    "UNSPSC %(unspsc)s must be 8 digits (e.g. 46181504 for gloves)",
                    unspsc=repr(unspsc[:20]),
                ))
        values["unspsc"] = unspsc
    gtin = (row.get("gtin") or "").strip()
    if gtin:  # the GTIN printed on the supplier's pack label; an empty cell keeps the one recorded
        try:
            values["gtin"] = gs1.normalise_gtin(gtin[:40])
        except gs1.Gs1Error as exc:
            raise _RowProblem("gtin", lazy_gettext(
                    "%(message)s (the pack GTIN printed on the supplier's label)",
                    message=exc.message,
                )) from None
    return values


def _upsert(session: Session, values: dict[str, Any]) -> bool:
    breaks = values.pop("breaks")
    row = session.scalar(
        select(SupplierItem).where(
            SupplierItem.supplier_id == values["supplier_id"],
            SupplierItem.supplier_part_number == values["supplier_part_number"],
        )
    )
    was_new = row is None
    if row is None:
        row = SupplierItem(**values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    set_price_breaks(session, row.id, breaks)
    session.flush()
    return was_new
