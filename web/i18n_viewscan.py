"""Finds English text built in Python for a page (view-model strings) that is not marked for translation.

web/i18n_pyscan.py covers flash and the error types; text a view builds and hands to a template escapes it. This
check adds three places where text reaches a person, each failing on text written in place (a literal, an
f-string, a `%`- or `.format()`-formatted literal, a concatenation holding one):

- a message sink: a helper that shows its first argument (or its `message`-like keyword) to a person, such as
  `flash` or `saved` (`SINKS`). Here one word is text too ("Saved"), unlike a positional of an error type;
- a value passed to `render_template(...)` by keyword, or an element of a tuple, list or dict display passed so
  (text with a space, or a built one: one word may be a mode or a CSS class);
- a text field of a view-model dataclass (a field named in `TEXT_FIELDS`, e.g. `title`, `reason`, `label`): its
  default, and what a call constructing the class passes to it, positionally or by keyword (one word counts).
  What is passed is followed one step: `x or "none"`, a local name assigned text in the same function, and a
  call of a function of the same module that returns text (its `return` is named);
- a module-level text table: a tuple, list, set or dict display assigned at module level (an error page's titles
  and hints, labels per code), three levels deep, holding text with a space or a built one. Such a table is read
  at import, outside any request, so its fix is the `N_` marker (`core.notes.N_`), translated where it is shown.

A line carrying `# i18n: <why>` is opted out (text no person using a page reads, or a stored English value); on a
dataclass's `class` line it opts the whole class out (an API refusal, a diagnostic, a value stored in English), and
on a module-level table's first line the whole table (SQL, demo data a customer would type, English for a log).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from web.i18n_pyscan import (
    MESSAGE_KEYWORDS,
    OPT_OUT,
    Finding,
    Scanner,
    _dotted,
    _is_text,
    _Module,
    _opted_out,
    fix_for,
)

SINKS = frozenset({"flash", "saved", "flash_saved", "notice"})  # helpers whose first argument a person reads
TEXT_FIELDS = frozenset(
    {
        "title",
        "reason",
        "label",
        "text",
        "hint",
        "message",
        "caption",
        "summary",
        "sentence",
        "heading",
        "problem",
        "explanation",
        "advice",
        "words",
    }
)
TEMPLATE_CALLS = frozenset({"render_template"})
MARKER = "gettext"
TABLE_MARKER = "N_"  # a module-level table is built at import: mark its ids, translate them when shown
TABLE_DEPTH = 3


@dataclass(frozen=True, slots=True)
class _ViewModel:
    name: str
    fields: tuple[str, ...]  # in declaration order (positional arguments bind to these)


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (dotted := _dotted(target)) is not None and dotted.rpartition(".")[2] == "dataclass":
            return True
    return False


def _fields(node: ast.ClassDef) -> list[ast.AnnAssign]:
    out = []
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and "ClassVar" not in ast.unparse(
            stmt.annotation
        ):
            out.append(stmt)
    return out


class ViewScanner:
    """The scanned modules (shared with web/i18n_pyscan.py) and their view-model dataclasses."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.models: dict[str, _ViewModel] = {}
        for module in scanner.modules.values():
            for node in module.tree.body:
                if isinstance(node, ast.ClassDef) and _is_dataclass(node) and not OPT_OUT.search(
                    module.lines[node.lineno - 1]
                ):
                    names = tuple(f.target.id for f in _fields(node) if isinstance(f.target, ast.Name))
                    if TEXT_FIELDS & set(names):
                        self.models[f"{module.name}.{node.name}"] = _ViewModel(node.name, names)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for module in self.scanner.modules.values():
            rel = str(module.path.relative_to(self.scanner.root))
            for kind, node in self._texts(module):
                if not _opted_out(module.lines, node):
                    out.append(Finding(rel, node.lineno, kind, fix_for(node, MARKER)))
            for name, node in _table_texts(module):
                out.append(Finding(rel, node.lineno, f"table {name}", fix_for(node, TABLE_MARKER)))
        return sorted(set(out), key=lambda f: (f.path, f.line, f.kind, f.fix))

    def _texts(self, module: _Module) -> Iterator[tuple[str, ast.expr]]:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef) and f"{module.name}.{node.name}" in self.models:
                for stmt in _fields(node):
                    name = stmt.target.id if isinstance(stmt.target, ast.Name) else ""
                    if name in TEXT_FIELDS and stmt.value is not None and _is_text(stmt.value, strict=False):
                        yield f"{node.name}.{name} default", stmt.value
            if not isinstance(node, ast.Call) or (dotted := _dotted(node.func)) is None:
                continue
            last = dotted.rpartition(".")[2]
            if last in SINKS:
                yield from _sink_texts(last, node)
            elif last in TEMPLATE_CALLS:
                yield from _template_texts(node)
            elif (model := self.models.get(self.scanner.resolve(module, dotted))) is not None:
                yield from _model_texts(model, node, _Scope(module, node))


def _table_texts(module: _Module) -> Iterator[tuple[str, ast.expr]]:
    """Text written in place in a display assigned at module level (`FRIENDLY = {404: ("Not found", "...")}`)."""
    for stmt in module.tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(value, ast.Tuple | ast.List | ast.Set | ast.Dict):
            continue
        if OPT_OUT.search(module.lines[stmt.lineno - 1]):
            continue  # the first line opts the whole table out
        name = _dotted(target) or "table"
        for element in _elements(value, limit=TABLE_DEPTH):
            if element is not value and _is_text(element, strict=True) and not _opted_out(module.lines, element):
                yield name, element


def _sink_texts(name: str, call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    if call.args and _is_text(call.args[0], strict=False):
        yield name, call.args[0]
    for keyword in call.keywords:
        if keyword.arg in MESSAGE_KEYWORDS and _is_text(keyword.value, strict=False):
            yield name, keyword.value


def _template_texts(call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        for value in _elements(keyword.value):
            if _is_text(value, strict=True):
                yield f"render_template {keyword.arg}", value


def _elements(node: ast.expr, depth: int = 0, limit: int = 2) -> Iterator[ast.expr]:
    """The value itself, or the elements of a tuple, list, set or dict display (`limit` levels deep)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and depth < limit:
        for element in node.elts:
            yield from _elements(element, depth + 1, limit)
    elif isinstance(node, ast.Dict) and depth < limit:
        for value in node.values:
            yield from _elements(value, depth + 1, limit)
    else:
        yield node


class _Scope:
    """Where a constructor call sits: its module's functions and the names its enclosing function assigns."""

    def __init__(self, module: _Module, call: ast.Call) -> None:
        self.functions = {
            n.name: n for n in module.tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.assigned: dict[str, list[ast.expr]] = {}
        for function in ast.walk(module.tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and _contains(function, call):
                for stmt in ast.walk(function):
                    target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
                    if isinstance(stmt, ast.Assign) and isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(stmt.value)

    def sources(self, node: ast.expr, depth: int = 0) -> Iterator[ast.expr]:
        """`node` and what it is made of, one step back: the branches of `or`/`if`, a local name's assigned
        values, the returns of a function of this module it calls."""
        yield node
        if depth > 1:
            return
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                yield from self.sources(value, depth + 1)
        elif isinstance(node, ast.Name):
            for value in self.assigned.get(node.id, []):
                yield from self.sources(value, depth + 1)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            for stmt in ast.walk(self.functions[node.func.id]):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    yield from self.sources(stmt.value, depth + 1)


def _contains(function: ast.FunctionDef | ast.AsyncFunctionDef, node: ast.expr) -> bool:
    end = function.end_lineno or 0
    return function.lineno <= node.lineno <= end and any(n is node for n in ast.walk(function))


def _model_texts(model: _ViewModel, call: ast.Call, scope: _Scope) -> Iterator[tuple[str, ast.expr]]:
    passed = [(name, arg) for name, arg in zip(model.fields, call.args, strict=False)]
    passed += [(k.arg, k.value) for k in call.keywords if k.arg is not None]
    for name, arg in passed:
        if name in TEXT_FIELDS:
            for source in scope.sources(arg):
                if _is_text(source, strict=False):
                    yield f"{model.name}.{name}", source


def scan(root: Path, packages: tuple[str, ...], scanner: Scanner | None = None) -> list[Finding]:
    return ViewScanner(scanner or Scanner(root, packages)).findings()
