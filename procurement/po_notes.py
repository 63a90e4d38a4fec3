"""A purchase order's stored warnings: English message ids with their values, shown in the reader's language.

A warning (why an order was not auto-approved, a budget it exceeds, why it needs approval again) is written once
and read later by whoever opens the order, so it is stored as the message id plus its values, one JSON object a
line in `PurchaseOrder.warnings`, and translated when shown. Message ids are marked with `N_` so the translation
check extracts them. A line written before this format (plain English) is shown as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext


def N_(message: str) -> str:
    """Marks `message` as a message id to translate when shown; returns it unchanged (English)."""
    return message


@dataclass(frozen=True, slots=True)
class Note:
    """One warning: a message id with %(name)s placeholders and its values (text, or a note of its own)."""

    message: str
    values: tuple[tuple[str, str | Note], ...] = ()

    @classmethod
    def of(cls, message: str, **values: str | Note) -> Note:
        return cls(message, tuple(sorted(values.items())))

    def english(self) -> str:
        if not self.values:
            return self.message
        return self.message % {name: _english(value) for name, value in self.values}

    def shown(self) -> str:
        """The note in the language of the current request (English outside one)."""
        if not self.values:
            return gettext(self.message)
        return gettext(self.message, **{name: _shown(value) for name, value in self.values})

    def value(self, name: str) -> str | Note | None:
        return next((value for key, value in self.values if key == name), None)

    def __str__(self) -> str:
        return self.english()

    def encode(self) -> str:
        return json.dumps(_plain(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def decode(cls, line: str) -> Note:
        try:
            data = json.loads(line)
        except ValueError:
            return cls(line)  # written before warnings were stored as message ids
        return _note(data) if isinstance(data, dict) else cls(line)


def _english(value: str | Note) -> str:
    return value.english() if isinstance(value, Note) else value


def _shown(value: str | Note) -> str:
    return value.shown() if isinstance(value, Note) else value


def _plain(note: Note) -> dict[str, Any]:
    return {"m": note.message, "v": {k: _plain(v) if isinstance(v, Note) else v for k, v in note.values}}


def _note(data: dict[str, Any]) -> Note:
    raw = data.get("v")
    values: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Note(
        str(data.get("m", "")),
        tuple(sorted((str(k), _note(v) if isinstance(v, dict) else str(v)) for k, v in values.items())),
    )


def add(stored: str, note: Note) -> str:
    """`stored` warnings with `note` last (an equal earlier note moves to the end rather than repeating)."""
    line = note.encode()
    lines = [w for w in stored.split("\n") if w and w != line]
    return "\n".join([*lines, line])


def read(stored: str) -> tuple[Note, ...]:
    return tuple(Note.decode(w) for w in stored.split("\n") if w)
