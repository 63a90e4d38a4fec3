"""Stored notes (core.notes): kept as message ids with values, read back in any language, an older plain-English
line and typed text shown as they are, an equal note moved to the end rather than repeated."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st

from core import notes
from core.note_values import Day, Moment, Money, Number, Percent
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


_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_decimals = st.decimals(min_value=-10**9, max_value=10**9, places=3, allow_nan=False, allow_infinity=False)
_typed = st.one_of(
    st.builds(lambda d: Number(format(d, "f")), _decimals),
    st.builds(Money, _decimals, st.sampled_from(["EUR", "USD", "CHF"])),
    st.builds(Moment, st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda t: t.replace(microsecond=0, tzinfo=UTC))),
    st.builds(Day, st.dates()),
)
_notes = st.recursive(
    st.builds(lambda m, plain: Note(m, plain=plain), _texts, st.booleans()),
    lambda inner: st.builds(
        lambda m, values: Note(m, tuple(sorted(values.items()))), _texts,
        st.dictionaries(_texts, _texts | _typed | inner, max_size=4),
    ),
    max_leaves=8,
)


def _as_data(note: Note) -> object:
    if note.plain:
        return note.message
    return {"m": note.message, "v": {k: v if isinstance(v, str) else _as_data(v) if isinstance(v, Note) else v.stored()
                                     for k, v in note.values}}  # fmt: skip


def test_decimals_times_and_days_are_stored_typed_and_shown_in_the_readers_form(app: Flask) -> None:
    """The budget warning's sums, a time and an expiry day: English as before, German with its own separators and
    date form, whatever the stored JSON; a float is rounded by its caller (Number.of) rather than formatted."""
    note = Note.of("committed %(committed)s, margin %(margin)s dB, seen %(at)s, expiry %(expiry)s, price %(price)s",
                   committed=Decimal("15660.00"), margin=Number.of(4.234, 1), at=datetime(2026, 12, 7, 14, 43, 9,
                   tzinfo=UTC), expiry=date(2027, 6, 30), price=Money(Decimal("4.6"), "EUR"))  # fmt: skip
    assert '"committed": {"n": "15660.00"}' in note.encode() and '"at": {"t": "2026-12-07T14:43:09Z"}' in note.encode()
    assert Note.decode(note.encode()) == note
    english = "committed 15660.00, margin 4.2 dB, seen 2026-12-07 14:43 UTC, expiry 2027-06-30, price EUR 4.60"
    assert note.english() == english
    with app.test_request_context("/"):
        assert note.shown() == english
        with force_locale("de"):
            shown = note.shown()
    assert "15.660,00" in shown and "4,2 dB" in shown and "07.12.2026 14:43 UTC" in shown and "30.06.2027" in shown
    assert "4,60\xa0€" in shown, shown


def test_a_broken_typed_value_in_a_stored_line_is_shown_empty_not_raised(app: Flask) -> None:
    for broken in ('{"n": "NaN"}', '{"n": "1e999999"}', '{"n": [1]}', '{"t": "yesterday"}', '{"d": "2026-13-45"}',
                   '{"a": "Infinity", "c": "EUR"}'):  # fmt: skip
        note = Note.decode('{"m": "value %(v)s", "v": {"v": ' + broken + "}}")
        assert note.english() == "value ", broken
        with app.test_request_context("/"), force_locale("de"):
            assert note.shown() == "value ", broken


@settings(max_examples=300, derandomize=True)
@given(_notes)
def test_a_stored_line_is_what_json_writes_and_reads_back(note: Note) -> None:
    """The hand-built encoder (one note per PO line in a replenishment run) writes exactly json.dumps's text, whatever
    the order of the values, quotes, control characters or non-ASCII text in them."""
    line = note.encode()
    if note.plain:
        assert line == note.message
    else:
        assert line == json.dumps(_as_data(note), ensure_ascii=False, sort_keys=True)
        assert json.loads(line) == _as_data(note)


def test_a_signed_change_and_a_short_number_keep_their_form_in_every_language(app: Flask) -> None:
    """A weight change keeps its plus ("+12.3 g" / "+12,3 g"); a unit weight is written as short as it can be."""
    note = Note.of("%(change)s g = %(units)s × %(unit)s g", change=Number.of(12.34, 1, signed=True),
                   units=Number.of(-0.5, 2, signed=True), unit=Number.short(2.5))  # fmt: skip
    assert note.english() == "+12.3 g = -0.50 × 2.5 g"
    assert Number.short(1e-5).english() == "0.00001" and Number.short(10.0).english() == "10"
    with app.test_request_context("/"), force_locale("de"):
        assert note.shown() == "+12,3 g = -0,50 × 2,5 g"


def test_a_percentage_is_written_the_readers_way(app: Flask) -> None:
    note = Note.of("%(sl)s service level, tolerance %(tol)s", sl=Percent.of(0.95), tol=Percent.of(Decimal("0.025"), 1))
    assert Note.decode(note.encode()) == note and '"sl": {"p": "95"}' in note.encode()
    assert note.english() == "95% service level, tolerance 2.5%"
    with app.test_request_context("/"), force_locale("de"):
        assert note.shown() == "95\xa0% service level, tolerance 2,5\xa0%"
    kept = Note.of("%(p)s", p=Percent.of(Decimal("0.025"), 2))  # the digits it was stored with, in every language
    assert kept.english() == "2.50%"
    for language, expected in (("de", "2,50\xa0%"), ("es", "2,50\xa0%"), ("en", "2.50%")):
        with app.test_request_context("/"), force_locale(language):
            assert kept.shown() == expected, language
