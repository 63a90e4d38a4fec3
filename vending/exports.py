"""A usage report as CSV and as XLSX: the page's table (rows, then the total) with the period and filters named.

XLSX is written with openpyxl (maintained, pure Python, already the common reader/writer for Excel files in the
Python world): quantities are numbers, money is a number with a 0.00 format, so a spreadsheet adds them up.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask_babel import gettext
from openpyxl import Workbook

from core.csv_cells import defused
from vending.usage import DIMENSIONS, TITLES, UsageReport


def describe(report: UsageReport) -> list[tuple[str, str]]:
    q = report.query
    period = gettext("%(start)s to %(end)s inclusive", start=f"{q.start:%Y-%m-%d}", end=f"{q.end:%Y-%m-%d}")
    lines = [
        (gettext("Period"), period),
        (gettext("Time zone"), q.timezone),
        (gettext("Grouped by"), str(TITLES[q.by]).capitalize()),
    ]
    lines += [(gettext(DIMENSIONS[name][0]), value) for name, value in q.filters().items()]
    return lines


def filename(report: UsageReport, extension: str) -> str:
    q = report.query
    return f"usage-by-{q.by}-{q.start:%Y%m%d}-{q.end:%Y%m%d}.{extension}"


def to_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.headings)
    for row in report.table():
        writer.writerow([_text(cell) for cell in row])
    return out.getvalue()


def _text(cell: object) -> str:
    return defused(f"{cell:.2f}" if isinstance(cell, Decimal) else str(cell))


def to_xlsx(report: UsageReport) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Usage"
    sheet.append(report.headings)
    for row in report.table():
        sheet.append([float(c) if isinstance(c, Decimal) else c for c in row])
    for line in sheet.iter_rows():
        for cell in line:
            if cell.data_type == "f":  # a typed code like "=HYPERLINK(...)" stays text, never a formula
                cell.data_type = "s"
    for cells in sheet.iter_rows(min_row=2, min_col=4, max_col=4):
        for cell in cells:
            cell.number_format = "0.00"
    about = book.create_sheet("About")
    for label, value in describe(report):
        about.append([label, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
