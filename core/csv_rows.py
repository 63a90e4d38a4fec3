"""Reading CSV imports row by row: strict UTF-8, the header checked, wrong column counts reported per line.

Every import (vending items/workers/planograms, supplier catalogues) reads its file here, then parses each
row with its `core.validation.Schema` and saves it in a savepoint of its own: a bad row is reported with
its line, column and the fix, and every good row is kept.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.errors import DomainError
from core.texts import gettext, ngettext
from core.validation import ValidationError

log = logging.getLogger(__name__)
MAX_ROW_PROBLEMS = 1000  # past this many unreadable lines the file is not CSV of ours: stop reading


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # line number in the file, header = 1
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    column: str  # a column name, or "row" / "file" for the whole row or file
    message: str


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file; a 422 naming the file when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError.one(
            "file",
            gettext(
                "the file is not UTF-8 text (byte %(start)s): save it as 'CSV UTF-8' and upload it again",
                start=exc.start + 1,
            ),
        ) from None


def read_rows(text: str, required: Sequence[str], expected: Sequence[str]) -> Iterator[CsvRow | CsvProblem]:
    """Each data row as a CsvRow, or a CsvProblem for a line that cannot be a row; ValidationError for the header."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise ValidationError.one("file", gettext("the header line cannot be read as CSV (%(exc)s)", exc=exc)) from None
    missing = [name for name in required if name not in header]
    if missing:
        raise ValidationError.one(
            missing[0],
            gettext(
                "the header lacks %(missing)s: the first line must name the columns, e.g. %(expected)s",
                missing=", ".join(missing),
                expected=",".join(expected),
            ),
        )
    problems = 0
    while problems < MAX_ROW_PROBLEMS:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems += 1
            yield CsvProblem(
                reader.line_num, "row", gettext("this line cannot be read as CSV (%(exc)s): fix its quotes", exc=exc)
            )
            continue
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(header):
            problems += 1
            yield CsvProblem(
                reader.line_num,
                "row",
                ngettext(
                    "the row has %(num)s column but the header has %(header)s: add the missing values or quote "
                    "values that contain commas",
                    "the row has %(num)s columns but the header has %(header)s: add the missing values or quote "
                    "values that contain commas",
                    len(record),
                    header=len(header),
                ),
            )
            continue
        yield CsvRow(reader.line_num, dict(zip(header, record, strict=True)))
    yield CsvProblem(
        reader.line_num,
        "file",
        gettext(
            "more than %(max_row_problems)s unreadable rows: reading stopped here", max_row_problems=MAX_ROW_PROBLEMS
        ),
    )


def problems_of(line: int, exc: Exception) -> list[CsvProblem]:
    """What a row's failure tells the person: each bad column with its fix; never a database message."""
    if isinstance(exc, ValidationError):
        return [CsvProblem(line, column, message) for column, message in exc.errors.items()]
    if isinstance(exc, DomainError):
        return [CsvProblem(line, exc.field or "row", exc.message)]
    error_id = secrets.token_hex(5)
    log.error("error id %s: CSV line %s could not be saved", error_id, line, exc_info=exc)
    return [
        CsvProblem(
            line,
            "row",
            gettext(
                "this row could not be saved (error id %(error_id)s): check that its codes are not used by another "
                "record",
                error_id=error_id,
            ),
        )
    ]
