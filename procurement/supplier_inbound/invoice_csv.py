"""Invoices uploaded as CSV: one row per invoice line, grouped by (supplier_code, invoice_number); each invoice
is booked in its own savepoint, so one bad invoice never loses the others, and every problem names its rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import DomainError
from procurement.supplier_inbound import fields, invoices

COLUMNS = ("supplier_code", "po_number", "invoice_number", "invoice_date", "currency", "line", "quantity",
           "unit_price", "tax")  # fmt: skip
REQUIRED = COLUMNS[:-1]
MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class CsvOutcome:
    booked: tuple[str, ...]  # "ACME/INV-1 matched"
    problems: tuple[str, ...]  # "rows 2-3 (ACME/INV-2): ..."


def import_invoices(session: Session, text: str, clock: Clock, actor: str) -> CsvOutcome:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError(lazy_gettext("the CSV lacks column(s) %(missing)s: the header must name %(columns)s",
                                       missing=", ".join(missing), columns=", ".join(COLUMNS)),
                          field="file")  # fmt: skip
    groups: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = {}
    for number, row in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            raise DomainError(
                lazy_gettext("at most %(max_rows)s rows per upload: split the file", max_rows=MAX_ROWS), field="file"
            )
        key = ((row.get("supplier_code") or "").strip(), (row.get("invoice_number") or "").strip())
        groups.setdefault(key, []).append((number, row))
    booked: list[str] = []
    problems: list[str] = []
    for (supplier, invoice_number), rows in groups.items():
        where = f"rows {rows[0][0]}-{rows[-1][0]}" if len(rows) > 1 else f"row {rows[0][0]}"
        try:
            with session.begin_nested():
                invoice = invoices.record(session, _input(supplier, invoice_number, rows), "csv", None, clock, actor)
            booked.append(f"{supplier}/{invoice_number} {invoice.status}")
        except DomainError as exc:
            problems.append(f"{where} ({supplier or '?'}/{invoice_number or '?'}): {exc.message}")
    return CsvOutcome(tuple(booked), tuple(problems))


def _input(supplier: str, invoice_number: str, rows: list[tuple[int, dict[str, str]]]) -> invoices.InvoiceInput:
    first = rows[0][1]
    lines = tuple(
        (fields.quantity(row.get("line", ""), f"row {n} line", 1), fields.quantity(row.get("quantity", ""),
         f"row {n} quantity", 1), fields.price(row.get("unit_price", ""), f"row {n} unit_price"))
        for n, row in rows
    )  # fmt: skip
    tax = fields.price(first.get("tax") or "0", "tax")
    return invoices.InvoiceInput(
        fields.text(supplier, "supplier_code", 32), fields.text(first.get("po_number"), "po_number", 32),
        fields.text(invoice_number, "invoice_number", 64), fields.day(first.get("invoice_date", ""), "invoice_date"),
        fields.text(first.get("currency"), "currency", 3).upper(), lines, Decimal(tax),
    )  # fmt: skip
