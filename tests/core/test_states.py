"""core/states.py: one table drives the guard, the labels, the compare-and-set and the CHECK constraint."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidTransition
from core.states import State, StateMachine, labels_to_translate, shown_as_labels, value_label


class Door(State):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    JAMMED = "jammed_shut"


DOOR = StateMachine(
    "door",
    Door,
    {Door.CLOSED: {Door.OPENING: "unlock"}, Door.OPENING: {Door.OPEN: "sense_open", Door.JAMMED: "sense_jam"}},
    labels={Door.OPENING: "Opening…"},
    tones={Door.JAMMED: "bad", Door.OPEN: "good"},
)


def test_guard_names_current_target_and_allowed() -> None:
    assert DOOR.check("door L1", "closed", Door.OPENING) == "unlock"
    with pytest.raises(InvalidTransition) as caught:
        DOOR.check("door L1", Door.CLOSED, Door.OPEN)
    message = str(caught.value)
    assert "door L1" in message and "closed" in message and "open" in message and "opening" in message
    assert DOOR.can("opening", "open") and not DOOR.can("open", "closed")


def test_labels_and_tones_fall_back_to_a_humanised_value() -> None:
    assert Door.OPENING.label == "Opening…" and Door.JAMMED.label == "Jammed shut"
    assert Door.JAMMED.tone == "bad" and Door.CLOSED.tone == "neutral"
    assert DOOR.options([Door.CLOSED, Door.JAMMED]) == [("closed", "Closed"), ("jammed_shut", "Jammed shut")]


def test_compare_and_set_moves_only_from_an_allowed_source_and_check_constraint_refuses_strangers() -> None:
    metadata = MetaData()
    doors = Table("door", metadata, Column("id", Integer, primary_key=True), Column("status", String(20)),
                  DOOR.check_constraint("status", "ck_door_status"))
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(doors), [{"id": 1, "status": "opening"}, {"id": 2, "status": "closed"}])
        statement = DOOR.compare_and_set(doors.c.status, doors.c.id, Door.OPEN)
        assert conn.execute(statement, {"key": 1}).rowcount == 1
        assert conn.execute(statement, {"key": 2}).rowcount == 0  # closed cannot go straight to open
        assert dict(conn.execute(select(doors.c.id, doors.c.status)).all()) == {1: "open", 2: "closed"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(doors), {"id": 3, "status": "ajar"})


def test_a_table_naming_a_foreign_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown states"):
        StateMachine("door", Door, {Door.CLOSED: {"open": "x"}})  # type: ignore[dict-item]


class Hatch(State):
    OPEN = "open"
    SEALED = "sealed_tight"


HATCH = StateMachine("hatch", Hatch, {Hatch.OPEN: {Hatch.SEALED: "seal"}}, labels={Hatch.SEALED: "Sealed"})


def test_a_stored_value_gets_its_state_label_unless_two_enums_share_it() -> None:
    """Templates show row values (`slot.state`, a plain str): the label of the one enum that has the value, a
    declared label, or the humanised value when the value is ambiguous or unknown."""
    assert value_label("opening") == "Opening…"  # only Door has it
    assert value_label("sealed_tight") == "Sealed"
    assert value_label("open") == "Open"  # Door and Hatch both have it: no guess
    assert value_label("never_seen_before") == "Never seen before"
    shown_as_labels({"never_seen_before": "Brand new"})
    assert value_label("never_seen_before") == "Brand new"
    assert {"Opening…", "Sealed", "Brand new"} <= labels_to_translate()
    move_me = type("Row", (), {"status": "open"})()
    assert HATCH.move(move_me, Hatch.SEALED, "hatch 1") == Hatch.OPEN and move_me.status == "sealed_tight"
    with pytest.raises(InvalidTransition, match="hatch 1 cannot go from sealed_tight to open"):
        HATCH.move(move_me, Hatch.OPEN, "hatch 1")
