"""Stored notes (core.notes): kept as message ids with values, read back in any language, an older plain-English
line and typed text shown as they are, an equal note moved to the end rather than repeated."""

from __future__ import annotations

from flask import Flask
from flask_babel import force_locale

from core import notes
from core.notes import Note
from procurement.approval import AUTO_APPROVAL_NOT_APPLIED

LIMIT = Note.of("total %(total)s is not under the auto-approval limit %(limit)s", total="604.80", limit="500.00")


def test_a_note_round_trips_through_its_stored_line_with_a_nested_reason() -> None:
    note = Note.of(AUTO_APPROVAL_NOT_APPLIED, reason=LIMIT)
    line = note.encode()
    assert "\\n" not in line and "\n" not in line
    assert Note.decode(line) == note
    assert note.english() == "auto-approval not applied: total 604.80 is not under the auto-approval limit 500.00"
    assert note.value("reason") == LIMIT and note.value("nothing") is None


def test_notes_are_shown_in_the_language_of_the_request(app: Flask) -> None:
    note = Note.of(AUTO_APPROVAL_NOT_APPLIED, reason=LIMIT)
    with app.test_request_context("/"):
        assert note.shown() == note.english()
        with force_locale("de"):
            assert note.shown() == (
                "keine automatische Genehmigung: die Summe 604.80 liegt nicht unter der Grenze für automatische "
                "Genehmigung von 500.00"
            )
        with force_locale("es"):
            assert note.shown().startswith("aprobación automática no aplicada: el total 604.80 no es inferior")
    rise = Note.of("total rose %(rise)s %% after approval (limit %(limit)s %%)", rise="12.5", limit="10")
    assert rise.english() == "total rose 12.5 % after approval (limit 10 %)"


def test_a_line_written_before_message_ids_is_shown_as_it_is() -> None:
    legacy = "budget CC-100 2026-01: committed 100.00 + this order 80.00 exceeds 150.00"
    (note,) = notes.read(legacy)
    assert note == Note.typed(legacy) and note.english() == legacy and note.shown() == legacy
    assert Note.decode('["not", "an object"]') == Note.typed('["not", "an object"]')
    assert Note.decode('{"no": "message"}') == Note.typed('{"no": "message"}')


def test_typed_text_is_stored_and_shown_as_typed_even_when_it_is_a_message_id(app: Flask) -> None:
    typed = Note.typed("supplier changed after approval")
    assert typed.encode() == "supplier changed after approval"
    with app.test_request_context("/"), force_locale("de"):
        assert typed.shown() == "supplier changed after approval"
        assert Note.of("supplier changed after approval").shown() != "supplier changed after approval"


def test_a_field_of_several_lines_mixes_notes_and_plain_text_and_shows_each_in_the_language(app: Flask) -> None:
    stored = notes.encode(Note.of(AUTO_APPROVAL_NOT_APPLIED, reason=LIMIT), None, Note.typed("call Anna first"))
    assert stored.count("\n") == 1
    assert notes.english(stored).endswith("\ncall Anna first")
    with app.test_request_context("/"), force_locale("de"):
        lines = notes.shown_lines(stored)
        assert lines[0].startswith("keine automatische Genehmigung") and lines[1] == "call Anna first"
        assert notes.shown(stored) == "\n".join(lines)
    assert notes.shown("") == "" and notes.shown(None) == "" and notes.read(None) == ()


def test_joined_notes_show_each_part_in_the_language(app: Flask) -> None:
    both = notes.joined([Note.of("supplier changed after approval"), LIMIT])
    assert Note.decode(both.encode()) == both
    assert both.english() == "supplier changed after approval; " + LIMIT.english()
    with app.test_request_context("/"), force_locale("de"):
        assert both.shown() == "Lieferant nach der Genehmigung geändert; " + LIMIT.shown()
        assert LIMIT.shown().startswith("die Summe 604.80")
    assert notes.joined([LIMIT]) is LIMIT


def test_an_equal_note_moves_to_the_end_instead_of_repeating() -> None:
    first, second = Note.of("supplier changed after approval"), LIMIT
    stored = notes.add(notes.add(notes.add("", first), second), first)
    assert notes.read(stored) == (second, first)
