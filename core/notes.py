"""Text the code stores for a person to read later: message ids with their values, shown in the reader's language.

A reason, warning or message written once and read later (a PO line's reason, an invoice's hold, an alert) is stored
as the message id plus its values, one JSON object a line (`Note.encode`), and translated when shown
(`Note.shown`, `shown(stored)`; web's `shown` template filter). Message ids are marked with `N_` so the
translation check extracts them. Text a person typed, and a line written before this format (plain English), is
stored and shown as it is. Core imports no web framework: translation goes through `core.texts.gettext`, which
follows the request's language once web has installed its translator (English outside a request).
A Decimal, datetime or date value is kept typed (`core.note_values`: stored as such, formatted per reader and site
zone when shown); wrap a float in `Number.of(x, digits)` and an amount in `Money` rather than formatting it first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core.note_values import TYPED, TYPED_OF, Number, Percent, TypedValue, decoded
from core.texts import N_ as N_  # one marker for the whole code base: notes' callers import it from here too
from core.texts import gettext

Value = str | int | Decimal | date | TypedValue  # a datetime is a date; Decimal, datetime and date are kept typed
Stored = str | TypedValue


@dataclass(frozen=True, slots=True)
class Note:
    """One line: a message id with %(name)s placeholders and its values (text, or a note of its own).

    `plain` marks text that is shown as it is, never looked up: typed by a person, or stored before message ids.
    """

    message: str
    values: tuple[tuple[str, Stored | Note], ...] = ()
    plain: bool = False

    @classmethod
    def of(cls, message: str, /, **values: Value | Note) -> Note:
        if not values:
            return cls(message)
        return cls(message, tuple(sorted([(k, v if isinstance(v, _KEPT) else _kept(v)) for k, v in values.items()])))

    @classmethod
    def typed(cls, text: str) -> Note:
        """Text a person typed: stored and shown as it is."""
        return cls(text, plain=True)

    def english(self) -> str:
        if self.plain or not self.values:
            return self.message
        return self.message % {name: _english(value) for name, value in self.values}

    def shown(self) -> str:
        """The note in the language of the current request (English outside one)."""
        if self.plain or not self.message:
            return self.message  # gettext("") would be the catalogue's header
        if not self.values:
            return gettext(self.message)
        return gettext(self.message, **{name: _shown(value) for name, value in self.values})

    def value(self, name: str) -> Stored | Note | None:
        return next((value for key, value in self.values if key == name), None)

    def __str__(self) -> str:
        return self.english()

    def encode(self) -> str:
        """The stored line: JSON for a message id, the text itself for plain text."""
        if self.plain:
            return self.message
        return _json(self)

    @classmethod
    def decode(cls, line: str) -> Note:
        if not line.startswith("{"):
            return cls(line, plain=True)
        try:
            data = json.loads(line)
        except ValueError:
            return cls(line, plain=True)  # written before notes were stored as message ids
        if not isinstance(data, dict) or not isinstance(data.get("m"), str):
            return cls(line, plain=True)
        return _note(data)


_KEPT = (str, Note, *TYPED)  # values stored as they are


def _kept(value: object) -> Stored:
    """A Decimal, datetime or date as a typed value (formatted per reader when shown); anything else (an int
    count, a float already rounded by its caller) as its text."""
    convert = TYPED_OF.get(type(value))
    return convert(value) if convert is not None else str(value)


def _english(value: Stored | Note) -> str:
    return value if isinstance(value, str) else value.english()


def _shown(value: Stored | Note) -> str:
    return value if isinstance(value, str) else value.shown()


_quoted = json.encoder.encode_basestring  # json's own string quoting (C), as json.dumps(ensure_ascii=False) writes


def _json(note: Note) -> str:
    """What json.dumps(..., ensure_ascii=False, sort_keys=True) writes for the note, without building dicts first:
    a replenishment run encodes one note per line for tens of thousands of lines. `values` are kept sorted. The
    common value types are written here; the other typed values by `_value_json`."""
    if note.plain:
        return _quoted(note.message)
    fields = []
    for name, value in sorted(note.values):
        key = _KEYS.get(name) or _quoted_once(_KEYS, name, _quoted(name) + ": ")
        if isinstance(value, str):
            fields.append(key + _quoted(value))
        elif isinstance(value, Note):
            fields.append(key + _json(value))
        elif isinstance(value, Number):
            fields.append(key + '{"n": ' + _quoted(value.text) + "}")
        elif isinstance(value, Percent):
            fields.append(key + '{"p": ' + _quoted(value.text) + "}")
        else:
            fields.append(key + _value_json(value))
    head = _HEADS.get(note.message) or _quoted_once(_HEADS, note.message, '{"m": ' + _quoted(note.message) + ', "v": {')
    return head + ", ".join(fields) + "}}"


# The quoted forms of value names and message ids met so far: a few hundred in a whole program (both are written in
# the code), kept to a bound all the same.
_KEYS: dict[str, str] = {}
_HEADS: dict[str, str] = {}
_QUOTED_KEPT = 4096


def _quoted_once(done: dict[str, str], text: str, quoted: str) -> str:
    if len(done) < _QUOTED_KEPT:
        done[text] = quoted
    return quoted


def _value_json(value: Stored | Note) -> str:
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, Note):
        return _json(value)
    return "{" + ", ".join(_quoted(k) + ": " + _quoted(v) for k, v in sorted(value.stored().items())) + "}"


def _note(data: dict[str, Any]) -> Note:
    raw = data.get("v")
    values: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Note(str(data.get("m", "")), tuple(sorted((str(k), _stored_value(v)) for k, v in values.items())))


def _stored_value(value: object) -> Stored | Note:
    if not isinstance(value, dict):
        return str(value)
    if "m" in value:
        return _note(value)
    return decoded(value) or ""  # a typed value this version cannot read (or a broken one) is shown empty


def from_message(message: object) -> Note:
    """The note for an error's message: a lazy message's id and values (Flask-Babel's `lazy_gettext`, read without
    importing it), else its text as it is (for a message that is already text: call this in an English context)."""
    func, args, kwargs = (getattr(message, name, None) for name in ("_func", "_args", "_kwargs"))
    if getattr(func, "__name__", "") == "gettext" and isinstance(args, tuple) and len(args) == 1 and isinstance(
        args[0], str) and isinstance(kwargs, dict):  # fmt: skip
        values = {str(k): from_message(v) if hasattr(v, "_func") else _kept(v) for k, v in kwargs.items()}
        return Note.of(args[0], **values)
    return Note.typed(str(message))


def encode(*notes: Note | None) -> str:
    """A stored field holding `notes`, one a line (None and empty plain notes are left out)."""
    return "\n".join(n.encode() for n in notes if n is not None and (n.message or not n.plain))


def add(stored: str, note: Note) -> str:
    """`stored` notes with `note` last (an equal earlier note moves to the end rather than repeating)."""
    line = note.encode()
    lines = [w for w in stored.split("\n") if w and w != line]
    return "\n".join([*lines, line])


def read(stored: str | None) -> tuple[Note, ...]:
    """The notes of a stored field, one a line; a line that is not a stored note is plain text."""
    return tuple(Note.decode(w) for w in (stored or "").split("\n") if w)


def shown_lines(stored: str | None) -> list[str]:
    """Each line of a stored field in the reader's language."""
    return [note.shown() for note in read(stored)]


def shown(stored: str | None) -> str:
    """A stored field in the reader's language, its lines joined by a line break."""
    return "\n".join(shown_lines(stored))


def english(stored: str | None) -> str:
    """A stored field in English (for logs, CSV exports and comparisons)."""
    return "\n".join(note.english() for note in read(stored))


def joined(notes: Iterable[Note], separator: str = "; ") -> Note:
    """Several notes shown as one line (each in the reader's language), separated by `separator`."""
    parts = list(notes)
    if len(parts) == 1:
        return parts[0]
    if len(parts) <= len(_PART_NAMES):
        names = _PART_NAMES[: len(parts)]
        values = tuple(zip(names, parts, strict=True))  # already in the sorted order Note keeps
    else:
        names = [f"p{i}" for i in range(len(parts))]
        values = tuple(sorted(zip(names, parts, strict=True)))
    return Note(separator.join(f"%({name})s" for name in names), values, False)


_PART_NAMES = [f"p{i}" for i in range(10)]  # p0..p9 sort as they count: joined() needs no other order
