"""Finds user-facing text in templates that is not marked for translation, and writes the marked form.

A template is read as HTML with Jinja tokens kept whole. Text between tags that has a letter outside `{{ }}` is
user-facing; so are the attributes people read (title, placeholder, aria-label, alt, label, and the value of a
button-like input). Marked means: inside `{% trans %}...{% endtrans %}`, or an attribute whose value is one
`{{ _('...') }}` call. Words written as string literals are found too: inside `{{ }}`, in the values of a
`{% trans name=... %}` block, and in a `{% set name = ... %}` whose value reaches the page (a list or dict of labels,
a title chosen by a condition): a phrase, or one capitalised word ('Overview'); a lower-case word or a code
('ok', 'vending_admin.overview') is taken for a key, a class name or an endpoint. `unmarked(path)` lists what is
left with the exact replacement to paste; `mark(text)` applies the replacements of text runs and attributes (used
once to mark the templates, and by `python .ci/check_translations.py --fix`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError, nodes

JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
LETTER = re.compile(r"[^\W\d_]", re.U)
ATTRS = ("title", "placeholder", "aria-label", "alt", "label", "aria-description", "aria-roledescription")
ATTR = re.compile(r"(?<![\w-])(" + "|".join(ATTRS) + r'|value)="([^"]*)"')
RAW_ELEMENTS = ("script", "style")
NOT_WORDS = frozenset({"vendtrack", "×", "·", "—", "–"})  # brand and signs: never translated
_FILTER_WORDS = """format badge label int float lower upper length capitalize confidence_pct join sort striptags trim
    default e
    safe tojson first last round abs string list map select if else or and not none true false in is when money
    number decimal date time datetime percent replace truncate title count sum"""
FILTERS = frozenset(_FILTER_WORDS.split())


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    text: str  # what is there now
    fix: str  # what to write instead


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, source, offset): kind is 'jinja', 'tag' or 'text'; a tag may hold Jinja tokens inside it."""
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    text_start = 0

    def flush(end: int) -> None:
        if end > text_start:
            out.append(("text", text[text_start:end], text_start))

    while i < n:
        m = JINJA.match(text, i)
        if m:
            flush(i)
            out.append(("jinja", m.group(0), i))
            i = text_start = m.end()
            continue
        if text[i] == "<" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] in "/!"):
            flush(i)
            j, quote = i + 1, ""
            while j < n:
                m = JINJA.match(text, j)
                if m:
                    j = m.end()
                    continue
                c = text[j]
                if quote:
                    quote = "" if c == quote else quote
                elif c in "\"'":
                    quote = c
                elif c == ">":
                    break
                j += 1
            out.append(("tag", text[i : j + 1], i))
            i = text_start = j + 1
            continue
        i += 1
    flush(n)
    return out


def _name_for(expr: str, taken: set[str]) -> str:
    head = expr.split("|")[0]
    words = [w for w in re.findall(r"[A-Za-z_]\w*", head) if w not in FILTERS and not w.startswith("_")]
    base = (words[-1] if words else "value").lower()
    base = {"loop": "value", "gettext": "value"}.get(base, base)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _trans(parts: list[tuple[str, str]]) -> str:
    """A run of text and {{ }} expressions as one {% trans %} block, each complex expression bound to a name."""
    taken: set[str] = set()
    params: list[str] = []
    body = ""
    for kind, src in parts:
        if kind == "text":
            body += src
            continue
        expr = src[2:-2].strip()
        if re.fullmatch(r"[a-z_][a-z0-9_]*", expr) and expr not in taken and expr not in FILTERS:
            taken.add(expr)
            body += "{{ " + expr + " }}"
        else:
            name = _name_for(expr, taken)
            params.append(f"{name}={expr}")
            body += "{{ " + name + " }}"
    head = "{% trans " + ", ".join(params) + " %}" if params else "{% trans %}"
    return head + body + "{% endtrans %}"


def _is_text(literal: str) -> bool:
    words = " ".join(w for w in literal.split() if w not in NOT_WORDS)
    return bool(LETTER.search(words))


def _runs(tokens: list[tuple[str, str, int]]) -> list[tuple[int, int, list[tuple[str, str]]]]:
    """Runs of text and {{ }} outside tags, trans blocks and raw elements: (start, end, parts)."""
    runs: list[tuple[int, int, list[tuple[str, str]]]] = []
    current: list[tuple[str, str, int]] = []
    in_trans = False
    raw = ""
    macros: list[str] = []  # text inside a macro or block that makes a class name is not for people

    def close() -> None:
        if current:
            start, end = current[0][2], current[-1][2] + len(current[-1][1])
            runs.append((start, end, [(k, s) for k, s, _ in current]))
            current.clear()

    for kind, src, at in tokens:
        if raw:
            if kind == "tag" and src.lower().startswith("</" + raw):
                raw = ""
            continue
        if kind == "jinja" and src.startswith("{%"):
            close()
            word = src[2:-2].strip().lstrip("-+").split(" ")[0] if len(src) > 4 else ""
            if word == "trans":
                in_trans = True
            elif word == "endtrans":
                in_trans = False
            elif word in ("macro", "block"):  # a macro or block named *class writes a class name, not words
                macros.append(src[2:-2].split()[1].split("(")[0])
            elif word in ("endmacro", "endblock") and macros:
                macros.pop()
            continue
        markup_macro = macros and (macros[-1].endswith("class") or macros[-1] == "invalid")  # attribute makers
        if in_trans or (kind == "jinja" and src.startswith("{#")) or markup_macro:
            continue
        if kind == "tag":
            close()
            name = re.match(r"<(\w+)", src)
            if name and name.group(1).lower() in RAW_ELEMENTS and not src.endswith("/>"):
                raw = name.group(1).lower()
            continue
        current.append((kind, src, at))
    close()
    return runs


def _run_fix(parts: list[tuple[str, str]]) -> str | None:
    literal = "".join(src for kind, src in parts if kind == "text")
    if not _is_text(literal):
        return None
    first = next(i for i, (k, s) in enumerate(parts) if k != "text" or s.strip())
    last = max(i for i, (k, s) in enumerate(parts) if k != "text" or s.strip())
    core = list(parts[first : last + 1])
    lead = parts[first][1][: len(parts[first][1]) - len(parts[first][1].lstrip())] if parts[first][0] == "text" else ""
    tail_src = parts[last][1]
    tail = tail_src[len(tail_src.rstrip()) :] if parts[last][0] == "text" else ""
    if core[0][0] == "text":
        core[0] = ("text", core[0][1].lstrip())
    if core[-1][0] == "text":
        core[-1] = ("text", core[-1][1].rstrip())
    before = "".join(s for _k, s in parts[:first])
    after = "".join(s for _k, s in parts[last + 1 :])
    return before + lead + _trans(core) + tail + after


def _attr_fix(tag: str) -> str:
    def one(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if name == "value" and not re.search(r'type="(submit|button|reset)"', tag):
            return m.group(0)
        stripped = value.strip()
        if stripped.startswith("{{ _(") and stripped.endswith(") }}") and stripped.count("{{") == 1:
            return m.group(0)
        literal = JINJA.sub("", value)
        if not _is_text(literal) or "{%" in value:
            return m.group(0)
        taken: set[str] = set()
        args: list[str] = []

        def var(source: str) -> str:
            expr = source[2:-2].strip()
            key = _name_for(expr, taken)
            args.append(f"{key}={expr}")
            return "%(" + key + ")s"

        pieces = re.split(r"({{.*?}})", value)
        text = "".join(var(p) if p.startswith("{{") else p.replace("%", "%%") for p in pieces if p)
        quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return f'{name}="{{{{ _({", ".join([quoted, *args])}) }}}}"'

    return ATTR.sub(one, tag)


def mark(text: str) -> str:
    """The template with every unmarked text run and attribute marked."""
    tokens = _tokens(text)
    edits: list[tuple[int, int, str]] = []
    for start, end, parts in _runs(tokens):
        fixed = _run_fix(parts)
        if fixed is not None:
            edits.append((start, end, fixed))
    for kind, src, at in tokens:
        if kind == "tag":
            fixed_tag = _attr_fix(src)
            if fixed_tag != src:
                edits.append((at, at + len(src), fixed_tag))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def unmarked(path: Path, root: Path) -> list[Finding]:
    """Every user-facing string of one template not marked for translation, with the exact replacement."""
    text = path.read_text(encoding="utf-8")
    tokens = _tokens(text)
    found: list[Finding] = []
    rel = str(path.relative_to(root))
    for start, end, parts in _runs(tokens):
        fixed = _run_fix(parts)
        if fixed is not None:
            found.append(Finding(rel, text.count("\n", 0, start) + 1, text[start:end].strip(), fixed.strip()))
    for kind, src, at in tokens:
        if kind == "tag" and (fixed_tag := _attr_fix(src)) != src:
            found.append(Finding(rel, text.count("\n", 0, at) + 1, src, fixed_tag))
        elif TRANS_WITH_VALUES.match(src) and (fixed_trans := _trans_values_fix(src)) is not None:
            found.append(Finding(rel, text.count("\n", 0, at) + 1, src, fixed_trans))
        elif SET_WITH_VALUE.match(src) and (fixed_set := _set_fix(src)) is not None:
            found.append(Finding(rel, text.count("\n", 0, at) + 1, src, fixed_set))
    for start, _end, parts in _runs(tokens):  # words written as string literals inside {{ }}
        offset = start
        for kind, src in parts:
            if kind == "jinja" and src.startswith("{{") and (fixed := _expression_fix(src)) is not None:
                found.append(Finding(rel, text.count("\n", 0, offset) + 1, src, fixed))
            offset += len(src)
    return found


_PARSER = Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"])
_MARKERS = frozenset({"_", "gettext", "ngettext", "lazy_gettext"})
SHOWN_KEYWORDS = {"bar_chart": ("title", "empty"), "time_chart": ("title", "empty")}  # globals printing these
SCRIPT_PLACEHOLDER = re.compile(r"\{\w+\}")  # '{host}': filled in by the page's script, not words
WORD = re.compile(r"[^\W\d_]{2,}", re.U)  # two letters in a row: "%+.1f" is a format, not a word


def _shown(node: nodes.Node, out: list[nodes.Const]) -> None:
    """String constants that an output expression prints: the branches of `a if c else b`, the values of a dict
    looked up for display (`{'x': 'Text'}.get(k, 'Default')`), the value a filter is applied to, concatenations, a
    chart's title (`SHOWN_KEYWORDS`); never a marked call's argument, a filter's argument, a dict key or a
    comparison."""
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in _MARKERS:
        return
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in SHOWN_KEYWORDS:
        for keyword in node.kwargs:  # a chart's title and empty-message are printed
            if keyword.key in SHOWN_KEYWORDS[node.node.name]:
                _shown(keyword.value, out)
        return
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        out.append(node)
    elif isinstance(node, nodes.CondExpr):
        _shown(node.expr1, out)
        if node.expr2 is not None:
            _shown(node.expr2, out)
    elif isinstance(node, nodes.Filter) and node.node is not None:
        _shown(node.node, out)
    elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr == "get":
        _shown(node.node.node, out)
        if len(node.args) > 1:
            _shown(node.args[1], out)
    elif isinstance(node, nodes.Getitem):
        _shown(node.node, out)
    elif isinstance(node, nodes.Dict):
        for pair in node.items:
            _shown(pair.value, out)
    elif isinstance(node, nodes.Concat):
        for part in node.nodes:
            _shown(part, out)
    elif isinstance(node, (nodes.Add, nodes.Or)):  # `name or 'none yet'` prints the literal when name is empty
        _shown(node.left, out)
        _shown(node.right, out)


TRANS_WITH_VALUES = re.compile(r"{%-?\s*trans\s+\w+\s*=")  # {% trans name=value ... %}: its values are printed


def _expression_fix(src: str) -> str | None:
    """`{{ 'yes' if x else 'no' }}` → `{{ _('yes') if x else _('no') }}`; None when it prints no literal words."""
    try:
        tree = _PARSER.parse(src)
    except TemplateSyntaxError:
        return None
    literals: list[nodes.Const] = []
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            _shown(child, literals)
    return _marked(src, literals)


def _trans_values_fix(src: str) -> str | None:
    """`{% trans yet=reason or 'not yet' %}` → `... or _('not yet') %}`: a trans block's values are printed too."""
    try:
        tree = _PARSER.parse(src + "{% endtrans %}")
    except TemplateSyntaxError:
        return None
    literals: list[nodes.Const] = []
    for values in tree.find_all(nodes.Dict):  # the block's message % {name: value, ...}
        for pair in values.items:
            _shown(pair.value, literals)
    return _marked(src, literals)


SET_WITH_VALUE = re.compile(r"{%-?\s*set\s+[\w,\s]+=")  # {% set name = value %} (a block set's body is text)
NOT_SHOWN_TARGETS = re.compile(r"(class|css|id|url|endpoint|key|kind|mode|format)s?$")  # names that hold codes
LABEL_WORD = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ]+")  # one capitalised word reads as a label ('Overview')


def _set_fix(src: str) -> str | None:
    """`{% set pages = [('Overview', 'x.overview')] %}` → `[(_('Overview'), 'x.overview')]`: the literal labels a
    set assigns (a phrase, or one capitalised word) in lists, tuples and dicts, the branches of a condition, an `or`
    fallback, a concatenation; never a call's or filter's argument, a dict key or a comparison."""
    try:
        tree = _PARSER.parse(src)
    except TemplateSyntaxError:
        return None
    literals: list[nodes.Const] = []
    for assign in tree.find_all(nodes.Assign):
        names = [n.name for n in assign.target.find_all(nodes.Name)] if not isinstance(assign.target, nodes.Name) else [
            assign.target.name]  # fmt: skip
        if all(NOT_SHOWN_TARGETS.search(name) for name in names):
            continue
        _assigned(assign.node, literals)
    labels = [c for c in literals if " " in c.value.strip() or LABEL_WORD.fullmatch(c.value.strip())]
    return _marked(src, labels)


def _assigned(node: nodes.Node, out: list[nodes.Const]) -> None:
    """String constants a set's value holds where they would be printed: `_shown`'s places plus list and tuple
    items."""
    if isinstance(node, (nodes.List, nodes.Tuple)):
        for item in node.items:
            _assigned(item, out)
    elif isinstance(node, nodes.Dict):
        for pair in node.items:
            _assigned(pair.value, out)
    elif isinstance(node, nodes.CondExpr):
        _assigned(node.expr1, out)
        if node.expr2 is not None:
            _assigned(node.expr2, out)
    elif isinstance(node, (nodes.Add, nodes.Or)):
        _assigned(node.left, out)
        _assigned(node.right, out)
    else:
        _shown(node, out)


def _marked(src: str, literals: list[nodes.Const]) -> str | None:
    words = {c.value for c in literals if WORD.search(" ".join(w for w in c.value.split() if w not in NOT_WORDS))
             and not SCRIPT_PLACEHOLDER.fullmatch(c.value)}  # fmt: skip
    fixed = src
    for word in sorted(words, key=len, reverse=True):
        for quote in ("'", '"'):
            fixed = re.sub(r"(?<![\w\\])(?<!_\()" + re.escape(quote + word + quote), f"_({quote}{word}{quote})", fixed)
    return fixed if fixed != src else None


def template_files(root: Path) -> list[Path]:
    skip = {".venv", "node_modules", ".git", "tests"}
    return sorted(p for p in root.rglob("templates/**/*.html") if not skip & set(p.relative_to(root).parts))
