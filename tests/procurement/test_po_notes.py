"""A PO's stored warnings (procurement.po_notes): kept as message ids with values, read back in any language, an
older plain-English line still shown, an equal warning moved to the end rather than repeated."""

from __future__ import annotations

from flask import Flask
from flask_babel import force_locale

from procurement import po_notes
from procurement.approval import AUTO_APPROVAL_NOT_APPLIED
from procurement.po_notes import Note

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
    (note,) = po_notes.read(legacy)
    assert note == Note(legacy) and note.english() == legacy and note.shown() == legacy
    assert Note.decode('["not", "an object"]') == Note('["not", "an object"]')


def test_an_equal_note_moves_to_the_end_instead_of_repeating() -> None:
    first, second = Note.of("supplier changed after approval"), LIMIT
    stored = po_notes.add(po_notes.add(po_notes.add("", first), second), first)
    assert po_notes.read(stored) == (second, first)
