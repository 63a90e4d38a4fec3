"""Calibration services and routes: offsets suggested from reference tags and applied with an audit entry, measured
room accuracy per site on the API and the locate page, roles and hostile input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.audit import AuditEntry
from core.clock import ManualClock
from core.db import unit_of_work
from core.models import Site
from core.notes import Note
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import csrf_from, login
from tests.tracking.conftest import seed_floor, tag_key
from tracking import calibration_service
from tracking.calibration import REFERENCE_TAG, path_gain_db
from tracking.engine import RoomChange
from tracking.models import Asset, Gateway, Tag, Zone
from tracking.observation import Observation
from tracking.recording import apply_room_changes

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REFS = {10: "A", 11: "B", 12: "X"}  # tag minor -> the zone it is fixed in


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    return create_app(config)


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """The three-zone floor on site NORTH with a reference tag fixed in each zone; users and tokens."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        site = Site(code="NORTH", name="North hospital")
        session.add(site)
        session.flush()
        for zone in session.scalars(select(Zone)):
            zone.site_id = site.id
        zones = {z.code: z.id for z in session.scalars(select(Zone))}
        for minor, code in REFS.items():
            tag = Tag(tag_key=tag_key(minor))
            session.add(tag)
            session.flush()
            session.add(Asset(asset_tag=f"REF-{code}", name=f"Reference {code}", asset_type=REFERENCE_TAG,
                              home_zone_id=zones[code], tag_id=tag.id))  # fmt: skip
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
        create_user(session, "root", "toor-password-9", [Role.ADMIN])
        reader, _ = create_token(session, "reader", [TokenScope.READ])
        gateway, _ = create_token(session, "gw", [TokenScope.GATEWAY])
    return {"read": f"Bearer {reader}", "gateway": f"Bearer {gateway}"}


def _decide(app: Flask, changes: list[tuple[int, str | None, float]]) -> None:
    """Write room changes through the recording path the pipeline uses: (tag minor, zone, seconds after START)."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        why = Note.typed("test")
        found = [RoomChange(tag_key(m), None, zone, 0.9, why, START.timestamp() + s) for m, zone, s in changes]
        apply_room_changes(session, found)


def _heard(app: Flask, bias: dict[str, float]) -> list[Observation]:
    """Ten adverts of each reference tag at each gateway, at the path-loss model's level plus each gateway's bias."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        shape = calibration_service.geometry(session)
    observations = []
    for minor, zone in REFS.items():
        for gateway_id, xy in shape.gateways.items():
            tag_xy = shape.centres[zone]
            level = -59 + path_gain_db(math.dist(tag_xy, xy), shape.walls_between(tag_xy, xy))
            level += bias.get(gateway_id, 0.0)
            at = START.timestamp()
            observations += [Observation(gateway_id, tag_key(minor), round(level), -59, None, None, at + t)
                             for t in range(10)]  # fmt: skip
    return observations


def test_calibrate_command_suggests_then_applies_from_a_recording(
    app: Flask, tokens: dict[str, str], tmp_path: Path
) -> None:
    recording = tmp_path / "refs.jsonl"
    lines = [json.dumps({"gateway_id": o.gateway_id, "tag_key": o.tag_key, "rssi": o.rssi, "at": o.at})
             for o in _heard(app, {"gw-b": -6.0})]  # fmt: skip
    recording.write_text("\n".join(lines) + "\n")
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["tracking", "calibrate", str(recording)])
    assert shown.exit_code == 0, shown.output
    assert "gw-b: offset +0.0 -> +6.0 dB (3 tags, 30 adverts" in shown.output and "not applied" in shown.output
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        assert session.scalar(select(Gateway.offset_db).where(Gateway.gateway_id == "gw-b")) == 0.0
    applied = runner.invoke(args=["tracking", "calibrate", "--apply", str(recording)])
    assert applied.exit_code == 0 and "applied" in applied.output
    with unit_of_work(factory) as session:
        assert session.scalar(select(Gateway.offset_db).where(Gateway.gateway_id == "gw-b")) == pytest.approx(6.0)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    refused = runner.invoke(args=["tracking", "calibrate", str(empty)])
    assert refused.exit_code != 0 and "reference_tag" in refused.output


def test_offsets_are_suggested_from_reference_tags_and_applied_with_an_audit_entry(
    app: Flask, tokens: dict[str, str], clock: ManualClock
) -> None:
    factory = app.extensions["vendtrack"].session_factory
    observations = _heard(app, {"gw-a": 5.0})  # gw-a reads 5 dB hot
    with unit_of_work(factory) as session:
        found = {s.gateway_id: s for s in calibration_service.suggest_offsets(session, observations)}
        assert found["gw-a"].suggested_offset_db == pytest.approx(-5.0, abs=0.6)
        assert abs(found["gw-b"].suggested_offset_db) < 0.6 and found["gw-a"].tags == 3
        assert found["gw-a"].current_offset_db == 0.0
        assert calibration_service.apply_offset(session, "gw-a", found["gw-a"].suggested_offset_db, "user:root", clock)
        assert not calibration_service.apply_offset(session, "gw-a", found["gw-a"].suggested_offset_db, "user:root")
    with unit_of_work(factory) as session:
        stored = session.scalar(select(Gateway.offset_db).where(Gateway.gateway_id == "gw-a"))
        assert stored == pytest.approx(-5, abs=0.6)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "tracking.gateway.calibrate"))
        assert entry is not None and entry.actor == "user:root" and '"offset_db": 0.0' in entry.before_json


def test_accuracy_per_site_counts_unknown_apart_and_shows_on_the_api_and_the_locate_page(
    app: Flask, client: FlaskClient, tokens: dict[str, str], clock: ManualClock
) -> None:
    # A: right for 50 min, then 5 min in B (wrong), 5 min unknown. B and X: right all hour.
    _decide(app, [(10, "A", 0), (11, "B", 0), (12, "X", 0), (10, "B", 3000), (10, None, 3300)])
    clock.set(START + timedelta(hours=1))
    response = client.get("/api/v1/tracking/accuracy", headers={"Authorization": tokens["read"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["window_s"] == 3600
    (north,) = body["sites"]
    assert (north["site"], north["reference_tags"], north["heard_tags"], north["observed_s"]) == ("NORTH", 3, 3, 10800)
    assert north["room_accuracy"] == pytest.approx(10200 / 10800, abs=1e-4)
    assert north["wrong_share"] == pytest.approx(300 / 10800, abs=1e-4)
    assert north["unknown_share"] == pytest.approx(300 / 10800, abs=1e-4)
    short = client.get("/api/v1/tracking/accuracy?window_s=600&site=NORTH", headers={"Authorization": tokens["read"]})
    assert short.get_json()["sites"][0]["room_accuracy"] == pytest.approx(1200 / 1800, abs=1e-4)
    other = client.get("/api/v1/tracking/accuracy?site=SOUTH", headers={"Authorization": tokens["read"]})
    assert other.get_json()["sites"] == []
    login(client, "nurse", "harbour-violet-5")
    assert client.get("/api/v1/tracking/accuracy").status_code == 200
    page = client.get("/tracking/").get_data(as_text=True)
    assert "Room accuracy 94 % (reference tags, last hour); unknown 3 %" in page


def test_accuracy_route_refuses_other_scopes_and_hostile_queries_by_field(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    assert client.get("/api/v1/tracking/accuracy", headers={"Authorization": tokens["gateway"]}).status_code == 403
    assert client.get("/api/v1/tracking/accuracy").status_code in (401, 403)
    for bad in ("nan", "NaN", "1e400", "abc", "2.5", str(10**20), "-5", "59", "[]"):
        response = client.get(f"/api/v1/tracking/accuracy?window_s={bad}", headers={"Authorization": tokens["read"]})
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["field"] == "window_s", bad
    response = client.get(f"/api/v1/tracking/accuracy?site={'S' * 500}", headers={"Authorization": tokens["read"]})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "site"


def test_offset_route_is_admin_only_and_refuses_hostile_bodies_by_field(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    url = "/api/v1/tracking/gateways/gw-b/offset"
    assert client.post(url, json={"offset_db": 2}, headers={"Authorization": tokens["read"]}).status_code == 403
    login(client, "root", "toor-password-9")
    csrf = {"X-CSRF-Token": csrf_from(client.get("/tracking/setup/").get_data(as_text=True))}
    for raw, field in (
        ('{"offset_db": NaN}', "offset_db"),
        ('{"offset_db": 1e400}', "offset_db"),
        ('{"offset_db": 1e6}', "offset_db"),
        ('{"offset_db": "loud"}', "offset_db"),
        ('{"offset_db": [1]}', "offset_db"),
        ('{"offset_db": true}', "offset_db"),
        ("{}", "offset_db"),
        ("[1, 2]", "body"),
        ("not json", "body"),
    ):
        response = client.post(url, data=raw, content_type="application/json", headers=csrf)
        assert response.status_code == (400 if raw == "not json" else 422), raw  # unparsable JSON: web.inputs' 400
        assert response.get_json()["error"]["field"] == field, raw
    missing = client.post("/api/v1/tracking/gateways/gw-nowhere/offset", json={"offset_db": 1}, headers=csrf)
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "gateway_id"
    done = client.post(url, json={"offset_db": -3.26}, headers=csrf)
    assert done.status_code == 200 and done.get_json() == {"gateway_id": "gw-b", "offset_db": -3.3, "changed": True}
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert session.scalar(select(Gateway.offset_db).where(Gateway.gateway_id == "gw-b")) == pytest.approx(-3.3)


def test_staff_may_not_apply_offsets(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    login(client, "nurse", "harbour-violet-5")
    csrf = {"X-CSRF-Token": csrf_from(client.get("/tracking/").get_data(as_text=True))}
    response = client.post("/api/v1/tracking/gateways/gw-b/offset", json={"offset_db": 2}, headers=csrf)
    assert response.status_code == 403
