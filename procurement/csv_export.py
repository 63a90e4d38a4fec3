"""CSV export of a PO in the supplier's own column profile (columns, headers, delimiter, optional UTF-8 BOM).

A profile is written as `field=Header` pairs separated by commas, e.g. `sku=Item,quantity=Qty,unit_price=Price`;
an empty profile gives the standard columns. The BOM makes Excel read UTF-8 (ΩD-0600 instead of Î©D-0600).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext

from core.csv_cells import defused
from core.errors import DomainError
from procurement.documents import LineRow, PoContext

BOM = "\ufeff"


def _date(value: object) -> str:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else ""


FIELDS: dict[str, Callable[[PoContext, LineRow], str]] = {
    "po_number": lambda c, r: c.po_number,
    "supplier_code": lambda c, r: c.supplier.code,
    "currency": lambda c, r: c.currency,
    "order_date": lambda c, r: c.order_date.date().isoformat(),
    "line": lambda c, r: str(r.line_number),
    "sku": lambda c, r: r.sku,
    "supplier_part_number": lambda c, r: r.supplier_part_number,
    "description": lambda c, r: r.description,
    "quantity": lambda c, r: str(r.quantity),
    "unit": lambda c, r: r.unit,
    "unit_price": lambda c, r: f"{r.unit_price:.4f}",
    "extended": lambda c, r: f"{r.extended:.2f}",
    "unspsc": lambda c, r: r.unspsc,
    "requested_delivery_date": lambda c, r: _date(r.requested_date or c.requested_delivery_date),
    "buyer_email": lambda c, r: c.buyer.email,
}
STANDARD = ("po_number", "supplier_code", "currency", "line", "sku", "supplier_part_number", "description",
            "quantity", "unit", "unit_price", "extended")  # fmt: skip
TEXT_FIELDS = frozenset({"sku", "supplier_part_number", "description", "buyer_email"})
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True, slots=True)
class CsvProfile:
    columns: tuple[tuple[str, str], ...] = tuple((f, f) for f in STANDARD)  # (field, header)
    delimiter: str = ","
    bom: bool = False


def parse_columns(text: str) -> tuple[tuple[str, str], ...]:
    """`field=Header,...` → pairs; an unknown field or an empty header is refused naming the choices."""
    if not text.strip():
        return tuple((f, f) for f in STANDARD)
    pairs: list[tuple[str, str]] = []
    for part in text.split(","):
        field, equals, header = part.partition("=")
        field, header = field.strip(), (header if equals else field).strip()
        if field not in FIELDS:
            raise DomainError(lazy_gettext("CSV column %(field)s is unknown: use one of %(fields)s",
                                           field=repr(field[:40]), fields=", ".join(FIELDS)),
                              field="csv_columns")  # fmt: skip
        if not header or len(header) > 60:
            raise DomainError(
                lazy_gettext("CSV column %(field)s: the header must be 1 to 60 characters", field=field),
                field="csv_columns",
            )
        pairs.append((field, header))
    return tuple(pairs)


def profile(columns: str, delimiter: str, bom: bool) -> CsvProfile:
    if delimiter not in DELIMITERS:
        raise DomainError(lazy_gettext("CSV delimiter %(delimiter)s is not one of %(values)s",
                                       delimiter=repr(delimiter), values=", ".join(DELIMITERS.values())),
                          field="csv_delimiter")  # fmt: skip
    return CsvProfile(parse_columns(columns), delimiter, bom)


def to_csv(ctx: PoContext, prof: CsvProfile | None = None) -> str:
    prof = prof or CsvProfile()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=prof.delimiter, lineterminator="\r\n")
    writer.writerow([header for _, header in prof.columns])
    for row in ctx.lines:
        writer.writerow([defused(FIELDS[f](ctx, row)) if f in TEXT_FIELDS else FIELDS[f](ctx, row)
                         for f, _ in prof.columns])  # fmt: skip
    return (BOM if prof.bom else "") + out.getvalue()
