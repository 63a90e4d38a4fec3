"""The Python half of the translation check: unmarked user-facing messages are named with file, line and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from web.i18n_pyscan import scan

ROOT = Path(__file__).resolve().parents[2]

ERRORS = """
class DomainError(Exception):
    def __init__(self, message, field=None, code=None, status=None):
        super().__init__(message)


class NotFound(DomainError):
    pass
"""
VALIDATION = """
from core.errors import DomainError


class ValidationError(DomainError):
    @classmethod
    def one(cls, name, message):
        return cls(message)


class FieldProblem(ValueError):
    pass
"""
CSV_IO = """
from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    column: str = "row"
"""


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    sources = {"core/errors.py": ERRORS, "core/validation.py": VALIDATION, "vending/csv_io.py": CSV_IO, **files}
    for name, text in sources.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _found(root: Path) -> list[str]:
    return [str(f) for f in scan(root, ("core", "vending", "web"))]


def test_an_unmarked_flash_is_named_with_file_line_and_fix(tmp_path: Path) -> None:
    view = 'from flask import flash\n\n\ndef saved(n):\n    flash(f"Saved {n} rows", "info")\n'
    root = _tree(tmp_path, {"web/views.py": view})
    assert _found(root) == [
        'web/views.py:5: flash message not marked for translation: wrap it in _("Saved %(n)s rows", n=n)'
    ]


def test_a_domain_error_subclass_with_an_f_string_is_found_through_its_imports(tmp_path: Path) -> None:
    # The subclass lives in another module and is imported under another name: the check resolves both itself.
    source = """
from core import errors as e


class SlotGone(e.NotFound):
    pass


def fail(slot):
    raise SlotGone(f"slot {slot.code} is gone", field="slot")
"""
    user = "from vending.errors2 import SlotGone as Gone\n\n\ndef again(slot):\n    raise Gone('no ' + slot)\n"
    root = _tree(tmp_path, {"vending/errors2.py": source, "vending/user.py": user})
    assert _found(root) == [
        "vending/errors2.py:10: SlotGone message not marked for translation: wrap it in "
        'lazy_gettext("slot %(code)s is gone", code=slot.code)',
        "vending/user.py:5: SlotGone message not marked for translation: wrap it in "
        'lazy_gettext("no %(slot)s", slot=slot)',
    ]


def test_row_errors_field_problems_and_validation_dicts_are_judged(tmp_path: Path) -> None:
    source = """
from core.validation import FieldProblem, ValidationError
from vending.csv_io import RowError


def rows(line, name):
    RowError(line, "the sku is not in the catalog: import items first", "sku")
    raise FieldProblem("%s is empty" % name)


def form():
    raise ValidationError({"quantity": "must be {} or more".format(1)})


def one():
    raise ValidationError.one("qty", "qty must be positive")
"""
    root = _tree(tmp_path, {"vending/rows.py": source})
    found = _found(root)
    assert [f.split(": ", 1)[0] for f in found] == ["vending/rows.py:7", "vending/rows.py:8", "vending/rows.py:12",
                                                    "vending/rows.py:16"]  # fmt: skip
    assert "RowError message" in found[0] and 'lazy_gettext("%(name)s is empty", name=name)' in found[1]
    assert 'lazy_gettext("must be %(value)s or more", value=1)' in found[2] and "ValidationError message" in found[3]


def test_marked_messages_identifiers_and_opted_out_lines_pass(tmp_path: Path) -> None:
    source = """
from flask import flash
from flask_babel import gettext as _, lazy_gettext, lazy_ngettext

from core.errors import DomainError, NotFound
from core.validation import ValidationError


def fine(n, why):
    flash(_("Saved %(n)s rows", n=n), "info")
    raise NotFound(lazy_gettext("no slot %(slot)s", slot=n), field="slot", code="not_found")


def plural(n):
    raise DomainError(lazy_ngettext("%(num)s row", "%(num)s rows", n))


def machine_only():
    raise DomainError("send the body as JSON", field="body")  # i18n: read by an integrator's HTTP client


def carried(message):
    raise ValidationError({"quantity": message})
"""
    root = _tree(tmp_path, {"web/fine.py": source})
    assert _found(root) == []


def test_the_ci_check_reports_python_findings_and_fails(tmp_path: Path) -> None:
    """The real tree: whatever is left unmarked (on this branch, tracking and procurement) makes the check exit 1;
    core, vending and web are clean."""
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_translations.py")], capture_output=True, text=True, check=False
    )
    findings = [line for line in done.stdout.splitlines() if "message not marked for translation" in line]
    left = {line.split("/", 1)[0] for line in findings}
    assert left <= {"tracking", "procurement"}, [f for f in findings if not f.startswith(("tracking", "procurement"))]
    if findings:
        assert done.returncode == 1


NOTES = """
class Note:
    @classmethod
    def of(cls, message, **values):
        return cls()


def N_(message):
    return message
"""


def test_a_number_or_time_formatted_into_a_notes_value_is_named_with_the_typed_fix(tmp_path: Path) -> None:
    """A note stores its values; one formatted into text first would read "15660.00" and "2026-12-07" in German."""
    root = _tree(tmp_path, {"core/notes.py": NOTES, "vending/alerts.py": """
from core.notes import N_, Note
from core import notes


def made(total, at, seconds, count):
    a = Note.of(N_("total %(total)s"), total=f"{total:.2f}")
    b = notes.Note.of(N_("since %(at)s"), at=at.strftime("%Y-%m-%d"))
    c = Note.of(N_("since %(at)s"), at=at.isoformat())
    d = Note.of(N_("for %(seconds)s s, %(count)s items"), seconds=round(seconds), count=f"{count}", at=at)
    e = Note.of(N_("level %(level)s"), level=f"{total:.0%}")  # i18n: an integer percentage for a log line
    return a, b, c, d, e
"""})
    found = _found(root)
    assert [f.split(":")[1] for f in found] == ["7", "8", "9"], found
    assert all("give it typed: Number.of(value, digits), Money(amount, currency)" in f for f in found), found
