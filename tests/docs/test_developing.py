"""docs/developing.md keeps its module map honest: one line per source module, none for a module that is gone.

When a module is missing the failure prints the lines to paste (drafted from each module's first docstring
line: edit them to say what the module owns), under the heading of its package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DEVELOPING = ROOT / "docs" / "developing.md"
PACKAGES = ("core", "firmware_bridge", "vending", "tracking", "procurement", "web", "migrations", "bench")
ENTRY = re.compile(r"^- `([\w/]+\.py)`: \S", re.M)


def source_modules() -> list[str]:
    """Every module of the product's packages, `__init__.py` and migration versions aside."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name != "__init__.py" and "/versions/" not in relative and "/static/" not in relative:
                found.append(relative)
    return found


def summary(relative: str, width: int = 120) -> str:
    """The module's first docstring sentence, cut at a clause boundary when it is long."""
    try:
        doc = ast.get_docstring(ast.parse((ROOT / relative).read_text(encoding="utf-8"))) or ""
    except SyntaxError:
        doc = ""
    text = " ".join(doc.split("\n\n")[0].split()).split(". ")[0].rstrip(".:")
    if len(text) > width:
        cuts = [text.rfind(mark, 40, width) for mark in ("; ", ", ", " (", ": ")]
        text = text[: max(cuts)] if max(cuts) > 0 else text[:width].rsplit(" ", 1)[0]
    return text or "TODO: what this module owns"


def map_section() -> str:
    text = DEVELOPING.read_text(encoding="utf-8")
    start = text.index("## Module map")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_every_module_has_a_line_in_the_module_map() -> None:
    listed = set(ENTRY.findall(map_section()))
    missing = [m for m in source_modules() if m not in listed]
    lines = "\n".join(f"  (under `{m.split('/')[0]}/`)  - `{m}`: {summary(m)}" for m in missing)
    assert not missing, f"docs/developing.md, '## Module map': add a line per new module:\n{lines}"


def test_the_module_map_names_no_module_that_is_gone() -> None:
    gone = sorted(set(ENTRY.findall(map_section())) - set(source_modules()))
    assert not gone, "docs/developing.md, '## Module map': remove (or rename) these lines:\n" + "\n".join(gone)


def test_each_module_is_listed_once() -> None:
    entries = ENTRY.findall(map_section())
    doubled = sorted({m for m in entries if entries.count(m) > 1})
    assert not doubled, f"listed more than once in the module map: {doubled}"


def test_developing_stands_alone() -> None:
    text = DEVELOPING.read_text(encoding="utf-8")
    outside = re.findall(r"\(\.\./[^)]*\)|`\.\./[^`]*`|/work/\S+", text)
    assert not outside, f"docs/developing.md points outside the repository: {outside}"
