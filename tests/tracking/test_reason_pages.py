"""The location engine's "why this room" reasons: stored as notes, read on the asset page in the reader's language
with room names in place of room codes, in English in events; a reason stored before notes still reads."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core import notes
from core.db import unit_of_work
from core.outbox_tables import OutboxEvent
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.tracking.conftest import seed_floor, tag_key
from tracking import reasons, recording
from tracking.engine import RoomChange
from tracking.labels import reason_text
from tracking.models import Asset, LocationInterval, Zone

MOVED = "gw-b strongest at -60 dBm, 4.2 dB over ICU for 15 s"


def _moved_twice(app: Flask) -> int:
    """Pump A-1 placed in ICU (room A renamed), then moved to Room B; an older interval with a plain-text reason."""
    factory = app.extensions["vendtrack"].session_factory
    now = app.extensions["vendtrack"].clock.now().timestamp()
    with unit_of_work(factory) as session:
        floor = seed_floor(session)
        session.execute(update(Zone).where(Zone.code == "A").values(code="ICU", name="Intensive care"))
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
        pump = floor.asset_ids["A-1"]
        at = recording.at_time(now - 3600)
        session.add(LocationInterval(asset_id=pump, zone_id=floor.zone_ids["A"], started_at=at,
                                     ended_at=at + timedelta(minutes=5), confidence=0.9,
                                     reason="kept in ICU: its gateway gw-a is silent"))  # fmt: skip
    first = reasons.strongest("gw-a", -58, None, None, None)
    moved = reasons.strongest("gw-b", -60.2, "ICU", 4.2, 15.0)
    with unit_of_work(factory) as session:
        changes = [RoomChange(tag_key(1), None, "ICU", 0.9, first, now - 60),
                   RoomChange(tag_key(1), "ICU", "B", 0.8, moved, now)]  # fmt: skip
        assert recording.apply_room_changes(session, changes) == 2
    return pump


def test_a_stored_reason_reads_in_german_with_the_room_name(app: Flask, client: FlaskClient) -> None:
    pump = _moved_twice(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        asset = session.get(Asset, pump)
        assert asset is not None and asset.location_reason.startswith("{")  # a note, not English text
        assert notes.english(asset.location_reason) == MOVED
        payloads = session.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "tracking.asset_moved")
                                   .order_by(OutboxEvent.id)).all()  # fmt: skip
        assert [json.loads(p)["data"]["reason"] for p in payloads] == ["gw-a strongest at -58 dBm", MOVED]
    login(client, "nurse", "harbour-violet-5")
    client.set_cookie("vendtrack_lang", "de")
    page = client.get(f"/tracking/assets/{pump}").get_data(as_text=True)
    german = "gw-b seit 15 s am stärksten mit -60 dBm, 4,2 dB über Intensive care"  # the German decimal comma
    assert f"Warum: {german}" in page  # the Why line
    assert f'<td class="reason">{german}</td>' in page
    assert '<td class="reason">gw-a am stärksten mit -58 dBm</td>' in page
    assert '<td class="reason">kept in Intensive care: its gateway gw-a is silent</td>' in page  # stored as English
    assert "über ICU" not in page and "strongest" not in page
    assert ">Ausleihen (in Benutzung)</button>" in page and ">In die Wartung geben</button>" in page  # its actions
    client.set_cookie("vendtrack_lang", "en")
    page = client.get(f"/tracking/assets/{pump}").get_data(as_text=True)
    assert '<td class="reason">gw-b strongest at -60 dBm, 4.2 dB over Intensive care for 15 s</td>' in page


def test_nested_room_codes_are_named_and_a_single_letter_code_too() -> None:
    stored = notes.joined([reasons.hold("B", ["gw-b"]), reasons.lost(40, 30, "X")]).encode()
    assert reason_text(stored, {"B": "Room B", "X": "Exit"}) == (
        "kept in Room B: its gateway gw-b is silent (reported down), not handed to a neighbour; "
        "no gateway heard the tag for 40 s (limit 30 s); Exit's gateway is silent too")
    assert reason_text("", {"B": "Room B"}) == ""
