"""Marks a rendered page's form after a failed post: typed values put back, bad fields flagged with the fix.

`mark_form(html, ...)` finds the `<form method="post">` whose action is the URL that was posted (the one
sharing most field names with the post when several are), puts every typed value back (never passwords,
hidden fields or files), sets `aria-invalid` on each bad field and writes the message after it, and puts a
summary at the top of the form. It edits the page's own markup, so every template gets this for free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlparse

from markupsafe import escape as _markup_escape
from werkzeug.datastructures import MultiDict


def escape(text: str, quote: bool = True) -> str:
    """Escaped as Jinja escapes (so a page reads the same whether a template or this module wrote it)."""
    return str(_markup_escape(text))


_UNSHOWN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_REFILLED = frozenset({"hidden", "password", "file", "submit", "button", "image", "reset"})


@dataclass
class _Element:
    tag: str
    attrs: list[tuple[str, str | None]]
    start: int
    end: int  # end of the start tag
    close_start: int | None = None  # textarea/select: where the closing tag begins and ends
    close_end: int | None = None
    options: list[_Element] = field(default_factory=list)
    text: str = ""  # an option's label, its value when it has no value attribute

    def attr(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)


@dataclass
class _Form:
    start: int
    end: int
    attrs: dict[str, str | None]
    elements: list[_Element] = field(default_factory=list)


class _Scan(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.forms: list[_Form] = []
        self.form: _Form | None = None
        self.open: list[_Element] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        end = start + len(self.get_starttag_text() or "")
        if tag == "form":
            self.form = _Form(start, end, dict(attrs))
        elif self.form is not None and tag in ("input", "textarea", "select", "option"):
            element = _Element(tag, attrs, start, end)
            if tag == "option":
                if self.open and self.open[-1].tag == "select":
                    self.open[-1].options.append(element)
                return
            self.form.elements.append(element)
            if tag in ("textarea", "select"):
                self.open.append(element)

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1].tag == "select" and self.open[-1].options:
            self.open[-1].options[-1].text += data

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        start = self._offset()
        end = self.text.find(">", start) + 1
        if tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None
        elif tag in ("textarea", "select") and self.open and self.open[-1].tag == tag:
            element = self.open.pop()
            element.close_start, element.close_end = start, end


def _tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    parts = [tag] + [name if value is None else f'{name}="{escape(value, quote=True)}"' for name, value in attrs]
    return "<" + " ".join(parts) + ">"


def _set(attrs: list[tuple[str, str | None]], name: str, value: str | None) -> list[tuple[str, str | None]]:
    return [(k, v) for k, v in attrs if k != name] + [(name, value)]


def _unset(attrs: list[tuple[str, str | None]], name: str) -> list[tuple[str, str | None]]:
    return [(k, v) for k, v in attrs if k != name]


def shown(value: str) -> str:
    """A typed value as it may be shown again: characters no page can carry become U+FFFD."""
    return _UNSHOWN.sub("\ufffd", value)


def _pick(forms: list[_Form], page_url: str, posted_path: str, names: set[str]) -> _Form | None:
    def target(form: _Form) -> str:
        return unquote(urlparse(urljoin(page_url, form.attrs.get("action") or "")).path)

    posts = [f for f in forms if (f.attrs.get("method") or "get").lower() == "post"]
    candidates = [f for f in posts if target(f) == unquote(posted_path)]
    if not candidates:
        return None
    return max(candidates, key=lambda f: len({e.attr("name") for e in f.elements} & names))


class _Edits:
    def __init__(self) -> None:
        self.items: list[tuple[int, int, str]] = []

    def replace(self, start: int, end: int, text: str) -> None:
        self.items.append((start, end, text))

    def apply(self, text: str) -> str:
        for start, end, new in sorted(self.items, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        return text


Attrs = list[tuple[str, str | None]]


def _refill(element: _Element, values: MultiDict[str, str], seen: dict[str, int], edits: _Edits) -> Attrs:
    """The element's start-tag attributes with the typed value put back (edits textarea/select bodies)."""
    name = element.attr("name") or ""
    typed = values.getlist(name)
    attrs = element.attrs
    kind = (element.attr("type") or "text").lower()
    if element.tag == "input" and kind in ("checkbox", "radio"):
        chosen = (element.attr("value") or "on") in typed
        return _set(attrs, "checked", None) if chosen else _unset(attrs, "checked")
    index = seen.get(name, 0)
    seen[name] = index + 1
    if element.tag == "input" and kind not in _NOT_REFILLED and index < len(typed):
        return _set(attrs, "value", shown(typed[index]))
    if element.tag == "textarea" and index < len(typed) and element.close_start is not None:
        edits.replace(element.end, element.close_start, escape(shown(typed[index])))
    if element.tag == "select" and typed:
        for option in element.options:
            value = option.attr("value")
            value = option.text.strip() if value is None else value
            if value:
                selected = _set(option.attrs, "selected", None) if value in typed else _unset(option.attrs, "selected")
                edits.replace(option.start, option.end, _tag("option", selected))
    return attrs


def mark_form(
    html: str,
    *,
    page_url: str,
    posted_path: str,
    values: MultiDict[str, str],
    errors: Mapping[str, str],
) -> str | None:
    """The page with the posted form refilled and its bad fields marked; None when the page has no such form."""
    scan = _Scan(html)
    scan.feed(html)
    scan.close()
    form = _pick(scan.forms, page_url, posted_path, set(values.keys()))
    if form is None:
        return None
    edits = _Edits()
    seen: dict[str, int] = {}
    marked: set[str] = set()
    for element in form.elements:
        name = element.attr("name")
        if not name:
            continue
        attrs = _refill(element, values, seen, edits)
        message = errors.get(name)
        if message is not None and name not in marked:
            marked.add(name)
            error_id = f"field-error-{re.sub(r'[^A-Za-z0-9_-]', '-', name)}"
            attrs = _set(_set(attrs, "aria-invalid", "true"), "aria-describedby", error_id)
            after = element.close_end if element.close_end is not None else element.end
            note = f'<span class="field-error" id="{error_id}" role="alert">{escape(shown(message))}</span>'
            edits.replace(after, after, note)
        if attrs is not element.attrs:
            edits.replace(element.start, element.end, _tag(element.tag, attrs))
    unmarked = [f"{name}: {text}" for name, text in errors.items() if name not in marked]
    summary = "Not saved: fix the marked field" + ("s" if len(errors) > 1 else "") + " and send it again."
    if unmarked:
        summary = "Not saved: " + "; ".join(unmarked)
    banner = f'<p class="form-error" role="alert">{escape(shown(summary))}</p>'
    edits.replace(form.end, form.end, banner)
    return edits.apply(html)
