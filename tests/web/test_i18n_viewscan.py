"""The view-model half of the translation check: English text a view builds for a page is named with its fix."""

from __future__ import annotations

from pathlib import Path

from web.i18n_viewscan import scan

MODELS = """
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Row:
    sku: str
    title: str
    kind: str = "plain"
    hint: str = field(default="")


@dataclass(frozen=True)
class Diagnostic:  # i18n: read by an operator in the API
    reason: str


class NotAModel:
    def __init__(self, title):
        self.title = title
"""


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"procurement/models2.py": MODELS, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _found(root: Path) -> list[str]:
    return [str(f) for f in scan(root, ("procurement", "web"))]


def test_a_view_model_text_field_is_checked_positionally_by_keyword_and_one_step_back(tmp_path: Path) -> None:
    source = """
from procurement.models2 import Row as R


def summary(n):
    if n:
        return f"min {n}"
    return "none"


def rows(sku, n, ok):
    label = "Waiting for review" if ok else sku
    yield R(sku, f"{sku} is below {n}")
    yield R(sku, title="Budget")
    yield R(sku, label)
    yield R(sku, sku or "no supplier")
    yield R(sku, summary(n), "min_max")
"""
    root = _tree(tmp_path, {"procurement/views2.py": source})
    found = _found(root)
    assert [f.split(": ", 1)[0] for f in found] == [
        "procurement/views2.py:7",  # summary's returns, found through the call
        "procurement/views2.py:8",
        "procurement/views2.py:12",  # the local name's assigned value
        "procurement/views2.py:13",
        "procurement/views2.py:14",  # one word is text in a text field
        "procurement/views2.py:16",  # the `or` default
    ]
    assert 'gettext("%(sku)s is below %(n)s", sku=sku, n=n)' in found[3]
    assert 'Row.title message not marked for translation: wrap it in gettext("Budget")' in found[4]


def test_sinks_template_values_and_defaults_are_checked(tmp_path: Path) -> None:
    source = """
from dataclasses import dataclass

from flask import flash, render_template

from vending.admin_views import saved


@dataclass
class Panel:
    heading: str = "Nothing yet"


def view(n, serial):
    flash("Saved", "info")
    saved(f"Tool {serial} is available again.", "tools")
    return render_template("x.html", title="This kiosk is not paired", about=[("Period", n), ("Rows", "all rows")],
                           mode="edit", css="wide")
"""
    root = _tree(tmp_path, {"web/pages.py": source})
    found = _found(root)
    assert [f.split(": ", 1)[0] for f in found] == [
        "web/pages.py:11",  # the default of a text field
        "web/pages.py:15",  # one word reaching a sink is text
        "web/pages.py:16",
        "web/pages.py:17",  # title, then the tuple's "all rows" (the same line)
        "web/pages.py:17",
    ]
    assert 'gettext("Tool %(serial)s is available again.", serial=serial)' in found[2]
    assert any('gettext("all rows")' in f for f in found) and not any('"edit"' in f or "Period" in f for f in found)


def test_marked_text_codes_and_opted_out_lines_and_classes_pass(tmp_path: Path) -> None:
    source = """
from flask import flash, render_template
from flask_babel import gettext, lazy_gettext, ngettext

from procurement.models2 import Diagnostic, NotAModel, Row


def fine(sku, n):
    flash(gettext("Saved"), "info")
    yield Row(sku, gettext("%(sku)s is below %(n)s", sku=sku, n=n), "no_supplier")
    yield Row(sku, ngettext("%(num)s line", "%(num)s lines", n), kind="review", hint=lazy_gettext("e.g. A3"))
    yield Row(sku, f"{sku} – {n}")
    yield Row(sku, "PO-000002")  # i18n: a document number, the same in every language
    yield Diagnostic("no gateway heard the tag")
    yield NotAModel("not a dataclass")
    return render_template("x.html", title=gettext("Purchase orders"), mode="edit")
"""
    root = _tree(tmp_path, {"procurement/fine.py": source})
    assert _found(root) == []


def test_the_repository_has_no_unmarked_view_model_text() -> None:
    root = Path(__file__).resolve().parents[2]
    assert _found_in(root) == []


def _found_in(root: Path) -> list[str]:
    return [str(f) for f in scan(root, ("core", "vending", "tracking", "procurement", "web"))]


def test_a_module_level_table_of_page_titles_and_hints_is_found_with_the_n_marker(tmp_path: Path) -> None:
    source = """
from core.texts import N_

FRIENDLY = {
    404: ("Not found", "That page or record does not exist."),
    409: (N_("Conflict"), N_("The record changed.")),
}
LABELS: dict[str, str] = {"check_out": "Check out (in use)", "clean": N_("Mark clean"), "code": "in_use"}
SQL = ("SELECT 1 FROM audit_log",)  # i18n: a statement for the database
SAMPLES = [  # i18n: demo data, as typed
    ("CC-100", "Assembly line"),
]
HEADERS = {"Permissions-Policy": "camera=(self), microphone=()"}  # i18n: HTTP header values


def page(status):
    hints = {"x": "not a module-level table"}
    return FRIENDLY[status], hints
"""
    root = _tree(tmp_path, {"web/errors2.py": source})
    found = _found(root)
    assert [f.split(": ", 1)[0] for f in found] == ["web/errors2.py:5", "web/errors2.py:5", "web/errors2.py:8"]
    titles = " ".join(found[:2])
    assert 'table FRIENDLY message not marked for translation: wrap it in N_("Not found")' in titles
    assert 'N_("That page or record does not exist.")' in titles
    assert 'table LABELS message not marked for translation: wrap it in N_("Check out (in use)")' in found[2]
