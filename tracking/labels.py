"""Names people read instead of codes: asset type labels ("Infusion pump"), their plurals, room names."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import notes
from core.notes import Note
from core.states import humanise
from tracking.models import AssetType, Zone


class TypeLabels:
    """Asset type code -> label and plural, from tracking_asset_type; an unlisted code is humanised."""

    def __init__(self, rows: dict[str, tuple[str, str]]) -> None:
        self._rows = rows

    @classmethod
    def load(cls, session: Session) -> TypeLabels:
        return cls({t.code: (t.label, t.plural) for t in session.scalars(select(AssetType))})

    def label(self, code: str) -> str:
        found = self._rows.get(code)
        return found[0] if found else humanise(code)

    def plural(self, code: str) -> str:
        found = self._rows.get(code)
        if found and found[1]:
            return found[1]
        return self.label(code) + "s"


def room_names(session: Session) -> dict[str, str]:
    """Zone code -> room name."""
    return dict(session.execute(select(Zone.code, Zone.name)).all())


def with_room_names(text: str, rooms: dict[str, str]) -> str:
    """The engine's reasons name rooms by code ("27 dB over EQUIP"): put the names in ("over Equipment store").

    Only whole codes are replaced, so a gateway id such as gw-equip is left alone.
    """
    if not text or not rooms:
        return text
    codes = sorted((c for c in rooms if len(c) > 1), key=len, reverse=True)  # "A" could be a word
    if not codes:
        return text
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(c) for c in codes) + r")(?![\w-])")
    return pattern.sub(lambda m: rooms[m.group(1)], text)


def reason_text(stored: str | None, rooms: dict[str, str]) -> str:
    """A stored location reason in the reader's language with room names in place of room codes.

    A stored note's values that are a room code (in nested notes too) become the room's name; a line stored before
    reasons were notes (plain English) gets its codes replaced as `with_room_names` does.
    """
    return "\n".join(
        with_room_names(note.message, rooms) if note.plain else _named(note, rooms).shown()
        for note in notes.read(stored)
    )


def _named(note: Note, rooms: dict[str, str]) -> Note:
    if note.plain or not note.values:
        return note
    values = tuple(
        (name, _named(value, rooms) if isinstance(value, Note) else rooms.get(value, value) if isinstance(value, str)
         else value)
        for name, value in note.values
    )
    return Note(note.message, values)
