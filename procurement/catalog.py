"""CSV import of supplier catalogues: every good row is saved, every bad row gets an error naming field and fix."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.models import Item
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


def _int(row: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = (row.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _RowProblem(name, f"{name} {raw!r} is not a whole number") from None
    if value < minimum:
        raise _RowProblem(name, f"{name} {value} must be at least {minimum}")
    return value


def _date(row: dict[str, str], name: str) -> date | None:
    raw = (row.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _RowProblem(name, f"{name} {raw!r} is not a date: use YYYY-MM-DD") from None


def parse_breaks(raw: str) -> list[tuple[int, Decimal]]:
    """'1:2.50;100:2.10' → [(1, 2.50), (100, 2.10)]."""
    breaks: list[tuple[int, Decimal]] = []
    for part in (p.strip() for p in raw.split(";")):
        if not part:
            continue
        qty_text, sep, price_text = part.partition(":")
        try:
            qty, price = int(qty_text), Decimal(price_text.strip())
        except (ValueError, InvalidOperation):
            raise _RowProblem("price_breaks", f"price break {part!r} is not qty:price (e.g. 1:2.50;100:2.10)") from None
        if not sep or qty < 1 or price < 0 or not price.is_finite():
            raise _RowProblem("price_breaks", f"price break {part!r} needs qty ≥ 1 and a price ≥ 0")
        breaks.append((qty, price))
    if not breaks:
        raise _RowProblem("price_breaks", "price_breaks is empty: give at least one qty:price")
    if len({q for q, _ in breaks}) != len(breaks):
        raise _RowProblem("price_breaks", "price_breaks repeats a quantity: give each min quantity once")
    return sorted(breaks)


def import_catalog(session: Session, text: str, actor: str) -> ImportResult:
    """Import rows of COLUMNS; each row in its own savepoint so one bad row never loses the others."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        return ImportResult(0, 0, (RowError(1, missing[0], f"header lacks column(s) {', '.join(missing)}"),))
    created = updated = 0
    errors: list[RowError] = []
    suppliers = {code: sid for sid, code in session.execute(select(Supplier.id, Supplier.code))}
    for number, row in enumerate(reader, start=2):
        try:
            values = _parse_row(session, row, suppliers)
        except _RowProblem as problem:
            errors.append(RowError(number, problem.field, str(problem)))
            continue
        with session.begin_nested():
            was_new = _upsert(session, values)
        created, updated = created + was_new, updated + (not was_new)
    audit.record(
        session, actor, "catalog.import", "supplier_item", "*", after={"created": created, "updated": updated,
                                                                       "errors": len(errors)},
    )  # fmt: skip
    return ImportResult(created, updated, tuple(errors))


def _parse_row(session: Session, row: dict[str, str], suppliers: dict[str, int]) -> dict[str, Any]:
    for name in REQUIRED:
        if not (row.get(name) or "").strip():
            raise _RowProblem(name, f"{name} is empty: every row needs it")
    code = row["supplier_code"].strip()
    if code not in suppliers:
        raise _RowProblem("supplier_code", f"unknown supplier {code!r}: create the supplier first")
    sku = row["sku"].strip()
    item_id = session.scalar(select(Item.id).where(Item.sku == sku))
    if item_id is None:
        raise _RowProblem("sku", f"unknown SKU {sku!r}: add the item before importing its supplier rows")
    valid_from, valid_to = _date(row, "valid_from"), _date(row, "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise _RowProblem("valid_to", "valid_to is before valid_from")
    values: dict[str, Any] = {
        "supplier_id": suppliers[code],
        "item_id": item_id,
        "supplier_part_number": row["supplier_part_number"].strip(),
        "description": (row.get("description") or "").strip(),
        "pack_qty": _int(row, "pack_qty", 1, 1),
        "unit_of_measure": (row.get("unit_of_measure") or "EA").strip() or "EA",
        "moq": _int(row, "moq", 1, 1),
        "order_multiple": _int(row, "order_multiple", 1, 1),
        "lead_time_days": _int(row, "lead_time_days", 7, 0),
        "priority": _int(row, "priority", 0, -1000),
        "valid_from": valid_from,
        "valid_to": valid_to,
        "breaks": parse_breaks(row["price_breaks"]),
    }
    unspsc = (row.get("unspsc") or "").strip()
    if unspsc:  # an absent or empty cell keeps the code already set (by hand or an earlier catalogue)
        if not (unspsc.isdigit() and len(unspsc) == 8):
            raise _RowProblem("unspsc", f"UNSPSC {unspsc[:20]!r} must be 8 digits (e.g. 46181504 for gloves)")
        values["unspsc"] = unspsc
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
