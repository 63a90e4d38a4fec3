"""Finds user-facing messages in Python code that are not marked for translation, with the exact fix.

A call is user-facing when it is `flash(...)` or constructs (or calls a class method of) a message type: a
subclass of one of `MESSAGE_BASES`. The subclasses are found here, by reading every class definition of the
scanned packages and resolving its bases through each module's imports, so a new error class is covered the day
it is written. The call's message arguments (positional, values of a dict display such as
`ValidationError({"qty": "..."})`, and the keywords in `MESSAGE_KEYWORDS`) fail when they are text written in
place: a literal, an f-string, a `%`- or `.format()`-formatted literal, or a concatenation holding one. A marked
call (`_`, `gettext`, `lazy_gettext`, `ngettext`, `lazy_ngettext`) or any other expression passes.

A positional or dict literal counts as text only when it holds a space or is concatenated with something
(`"row"`, `"quantity"`, `"error"` are field names, columns and flash categories); a message keyword counts
whenever it holds a letter.
A line whose string carries a trailing `# i18n: <why>` comment is opted out (text no person using a page reads).

A stored note's values (`Note.of(...)`, `vending.devices.said(...)` keywords) fail when a number or a time is
formatted into text first (`f"{x:.2f}"`, `f"{t:%Y-%m-%d}"`, `.strftime(...)`, `.isoformat()`): the note would show
"15660.00" and "2026-12-07" in every language. Give the value typed instead (core/note_values.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MESSAGE_BASES = frozenset(
    {
        "core.errors.DomainError",
        "core.users.UserError",
        "core.passwords.PasswordRejected",
        "core.validation.FieldProblem",
        "core.csv_rows.CsvProblem",
        "vending.csv_io.RowError",
        "tracking.setup.RowError",
        "tracking.setup._Bad",
        "procurement.catalog.RowError",
        "procurement.catalog._RowProblem",
    }
)
MESSAGE_KEYWORDS = frozenset({"message", "reason", "text", "detail", "said"})
MARKERS = frozenset({"_", "gettext", "lazy_gettext", "ngettext", "lazy_ngettext", "N_"})
NOTE_BUILDERS = frozenset({"core.notes.Note.of", "vending.devices.said"})  # their keywords are a note's values
TYPED_FIX = "Number.of(value, digits), Money(amount, currency), or the Decimal, datetime or date itself"
OPT_OUT = re.compile(r"#\s*i18n:\s*\S")
LETTER = re.compile(r"[^\W\d_]", re.U)


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    kind: str  # "flash", the message class's name, or "note value"
    fix: str  # the marked call (or the typed value) to write instead

    def __str__(self) -> str:
        if self.kind == "note value":
            return (f"{self.path}:{self.line}: a note's value is formatted into text before it is stored, so every "
                    f"language sees it the same: give it typed: {self.fix}")  # fmt: skip
        return f"{self.path}:{self.line}: {self.kind} message not marked for translation: wrap it in {self.fix}"


@dataclass(frozen=True, slots=True)
class _Module:
    name: str
    path: Path
    tree: ast.Module
    names: dict[str, str]  # local name -> dotted name it stands for (imports and the module's own classes)
    lines: list[str]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _names(module: str, is_package: bool, tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = f"{module}.{node.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)) is not None:
        return f"{head}.{node.attr}"
    return None


class Scanner:
    """The scanned modules, their classes and which of those are message types."""

    def __init__(self, root: Path, packages: tuple[str, ...]) -> None:
        self.root = root
        self.modules: dict[str, _Module] = {}
        for package in packages:
            for path in sorted((root / package).rglob("*.py")):
                if {".venv", "sim"} & set(path.relative_to(root).parts):
                    continue
                source = path.read_text(encoding="utf-8")
                name = module_name(root, path)
                tree = ast.parse(source, str(path))
                names = _names(name, path.name == "__init__.py", tree)
                self.modules[name] = _Module(name, path, tree, names, source.splitlines())
        self.messages = self._message_classes()

    def resolve(self, module: _Module, dotted: str) -> str:
        """The defining dotted name of `dotted` as written in `module`, following re-exports."""
        head, _dot, rest = dotted.partition(".")
        target = module.names.get(head, f"{module.name}.{head}")
        full = f"{target}.{rest}" if rest else target
        for _hop in range(10):
            owner, _d, last = full.rpartition(".")
            found = self.modules.get(owner)
            if found is None or last not in found.names or found.names[last] == full:
                return full
            full = found.names[last]
        return full

    def _message_classes(self) -> set[str]:
        bases: dict[str, list[str]] = {}
        for module in self.modules.values():
            for node in module.tree.body:
                if isinstance(node, ast.ClassDef):
                    written = [d for b in node.bases if (d := _dotted(b)) is not None]
                    bases[f"{module.name}.{node.name}"] = [self.resolve(module, d) for d in written]
        found = set(MESSAGE_BASES)
        grew = True
        while grew:
            grew = False
            for name, parents in bases.items():
                if name not in found and found & set(parents):
                    found.add(name)
                    grew = True
        return found

    def message_kind(self, module: _Module, call: ast.Call) -> str | None:
        """'flash', a message class's name, or None when the call shows no text to a person."""
        dotted = _dotted(call.func)
        if dotted is None:
            return None
        if dotted.rpartition(".")[2] == "flash":
            return "flash"
        full = self.resolve(module, dotted)
        if full in self.messages:
            return full.rpartition(".")[2]
        owner = full.rpartition(".")[0]  # ValidationError.one(...): a class method that builds one
        return owner.rpartition(".")[2] if owner in self.messages else None

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for module in self.modules.values():
            rel = str(module.path.relative_to(self.root))
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call) and (kind := self.message_kind(module, node)) is not None:
                    for arg in _message_args(node):
                        if not _opted_out(module.lines, arg):
                            marker = "_" if kind == "flash" else "lazy_gettext"
                            out.append(Finding(rel, arg.lineno, kind, fix_for(arg, marker)))
                if isinstance(node, ast.Call) and self.builds_note(module, node):
                    for keyword in node.keywords:
                        if _formatted_into_text(keyword.value) and not _opted_out(module.lines, keyword.value):
                            out.append(Finding(rel, keyword.value.lineno, "note value", TYPED_FIX))
        return sorted(out, key=lambda f: (f.path, f.line))

    def builds_note(self, module: _Module, call: ast.Call) -> bool:
        dotted = _dotted(call.func)
        return dotted is not None and self.resolve(module, dotted) in NOTE_BUILDERS


def _formatted_into_text(node: ast.expr) -> bool:
    """An f-string with a format spec (`f"{x:.2f}"`, `f"{t:%H:%M}"`), or a `.strftime()`/`.isoformat()` call."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) and v.format_spec is not None for v in node.values)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("strftime", "isoformat"))  # fmt: skip


def _message_args(call: ast.Call) -> Iterator[ast.expr]:
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            yield from (v for v in arg.values if _is_text(v, strict=True))
        elif _is_text(arg, strict=True):
            yield arg
    for keyword in call.keywords:
        if keyword.arg in MESSAGE_KEYWORDS and _is_text(keyword.value, strict=False):
            yield keyword.value


def _literal_text(node: ast.expr) -> str | None:
    """The literal characters written in place in `node`, or None when it is not text written in place."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _literal_text(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [_literal_text(node.left), _literal_text(node.right)]
        return None if parts == [None, None] else "".join(p or " " for p in parts)
    if _formats_literal(node):
        return _literal_text(node.func.value)  # type: ignore[attr-defined]
    if isinstance(node, ast.IfExp):
        parts = [_literal_text(node.body), _literal_text(node.orelse)]
        return None if parts == [None, None] else " ".join(p or "" for p in parts)
    return None


def _formats_literal(node: ast.expr) -> bool:
    """`"...".format(...)`"""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    )


def _is_text(node: ast.expr, *, strict: bool) -> bool:
    text = _literal_text(node)
    if text is None or not LETTER.search(text):
        return False
    built = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)  # "no " + code: a sentence being made
    return not strict or built or any(c.isspace() for c in text.strip())


def _opted_out(lines: list[str], node: ast.expr) -> bool:
    last = node.end_lineno or node.lineno
    return any(OPT_OUT.search(lines[n - 1]) for n in range(node.lineno, last + 1) if n - 1 < len(lines))


def _placeholder(expr: ast.expr, taken: dict[str, str]) -> str:
    source = ast.unparse(expr)
    for name, already in taken.items():
        if already == source:
            return name
    words = re.findall(r"[A-Za-z_]\w*", source)
    words = [w for w in words if w not in {"self", "len", "str", "repr", "int", "join"}]
    base = words[-1].lstrip("_").lower() if words else "value"
    name, k = base or "value", 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken[name] = source
    return name


def _parts(node: ast.expr, taken: dict[str, str]) -> str:
    """`node` as one %-placeholder message; expressions become %(name)s with name=expression in `taken`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("%", "%%")
    if isinstance(node, ast.JoinedStr):
        out = ""
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                expr = value.value
                if value.conversion == ord("r"):
                    expr = ast.Call(ast.Name("repr"), [expr], [])
                out += f"%({_placeholder(expr, taken)})s"
            else:
                out += _parts(value, taken)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left, taken) + _parts(node.right, taken)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        pieces = re.split(r"(%[-#0 +]?\d*(?:\.\d+)?[sdifr])", str(node.left.value))
        out, index = "", 0
        for piece in pieces:
            if re.fullmatch(r"%[-#0 +]?\d*(?:\.\d+)?[sdifr]", piece) and index < len(values):
                out += f"%({_placeholder(values[index], taken)})s"
                index += 1
            else:
                out += piece
        return out
    if _formats_literal(node):
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        text, index = str(_literal_text(node.func.value)), 0
        named = {k.arg: k.value for k in node.keywords if k.arg}

        def field(m: re.Match[str]) -> str:
            nonlocal index
            key = m.group(1).split("!")[0].split(":")[0]
            if key and not key.isdigit():
                expr = named.get(key, ast.Name(key))
            else:
                expr = node.args[int(key) if key else index] if node.args else ast.Name("value")
                index += 0 if key else 1
            return f"%({_placeholder(expr, taken)})s"

        return re.sub(r"{([^{}]*)}", field, text.replace("%", "%%"))
    if isinstance(node, ast.IfExp):
        return _parts(node.body, taken)  # each branch is a message of its own; the fix shows the first
    return f"%({_placeholder(node, taken)})s"


def fix_for(node: ast.expr, marker: str) -> str:
    """The marked call to write in place of `node`, e.g. lazy_gettext("Slot %(slot)s is empty", slot=slot)."""
    taken: dict[str, str] = {}
    text = _parts(node, taken)
    if not taken:
        text = text.replace("%%", "%")  # without parameters gettext does not %-format
    args = "".join(f", {name}={source}" for name, source in taken.items())
    return f"{marker}({_quoted(text)}{args})"


def _quoted(text: str) -> str:
    written = repr(text)
    if written.startswith("'") and '"' not in text:
        written = '"' + written[1:-1].replace("\\'", "'") + '"'
    return written


def scan(root: Path, packages: tuple[str, ...]) -> list[Finding]:
    return Scanner(root, packages).findings()
