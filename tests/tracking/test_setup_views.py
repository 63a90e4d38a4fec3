"""The zone and gateway setup pages: validation, changes with audit entries, refused deletes, export/load round
trip, the running engine picking up changes, access and CSRF; and an admin drawing a zone in Chromium."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core import audit
from core.clock import ManualClock
from core.db import make_engine, unit_of_work
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from migrations.models import load_all_models
from tests.conftest import LiveServer, csrf_from, login
from tests.tracking.conftest import Floor, seed_floor, tag_key
from tracking.models import Asset, Gateway, Zone
from tracking.observation import Observation
from tracking.pipeline import EXTRAS_KEY, Pipeline, TrackingSettings, load_floor

ZONE_C = {
    "code": "C", "name": "Room C", "building": "", "floor": "", "kind": "room",
    "polygon": "24,0 34,0 34,8 24,8", "max_radius_m": "9", "unit": "ICU",
}  # fmt: skip
GATEWAY_C = {"gateway_id": "gw-c", "zone": "C", "x": "29", "y": "4", "offset_db": "1.5"}


def _admin(app: Flask, client: FlaskClient) -> Floor:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        create_user(session, "ada", "ada-password", [Role.ADMIN])
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
        create_user(session, "rita", "juniper-canyon-8", [Role.RESTOCKER])
    login(client, "ada", "ada-password")
    return floor


def _post(client: FlaskClient, url: str, form: dict[str, str]) -> Any:
    token = csrf_from(client.get("/tracking/setup/zones/new").get_data(as_text=True))
    return client.post(url, data=form | {"csrf_token": token})


def _error(page: str, field: str) -> str:
    match = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', page)
    assert match, f"no error shown for {field}"
    return html.unescape(match.group(1))


def _zone_id(app: Flask, code: str) -> int:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        found = session.scalar(select(Zone.id).where(Zone.code == code))
    assert found is not None
    return found


def _gateway_pk(app: Flask, gateway_id: str) -> int:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        found = session.scalar(select(Gateway.id).where(Gateway.gateway_id == gateway_id))
    assert found is not None
    return found


def _history(app: Flask, entity_type: str, entity_id: int) -> list[audit.AuditRecord]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        return audit.history(session, entity_type, entity_id)


ZONE_ERRORS = [  # (field, value, words the message must contain)
    ("code", "", "code is required, e.g. ICU-1"),
    ("code", "A", "already used by zone 'Room A'"),
    ("code", "ward c", "without spaces"),
    ("name", "x" * 101, "shorten it to 100"),
    ("kind", "ballroom", "use one of room, corridor, exit, soiled_utility"),
    ("polygon", "", "at least 3"),
    ("polygon", "0,0 8,0", "has 2 point(s) but needs at least 3"),
    ("polygon", "0,0 8;0 8,6", "point 2 ('8;0') is not x,y"),
    ("polygon", "a,b c,d e,f", "point 1 ('a,b') is not x,y"),
    ("polygon", "0,0 4,4 8,8", "lie on one line"),
    ("max_radius_m", "-3", "more than 0"),
    ("max_radius_m", "far", "must be a number"),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"), ZONE_ERRORS, ids=[f"{f}={v[:10]!r}" for f, v, _ in ZONE_ERRORS]
)
def test_each_zone_error_names_the_field_and_keeps_the_form(
    app: Flask, client: FlaskClient, field: str, value: str, expected: str
) -> None:
    _admin(app, client)
    response = _post(client, "/tracking/setup/zones/new", ZONE_C | {field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert expected in _error(page, field)
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page)
    for other in ("name", "unit", "max_radius_m"):  # what was typed elsewhere is still there
        if other != field:
            assert f'name="{other}" value="{ZONE_C[other]}"' in page
    if field != "polygon":
        assert ZONE_C["polygon"] in page
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert session.scalar(select(Zone).where(Zone.name == "Room C")) is None


GATEWAY_ERRORS = [
    ("gateway_id", "", "gateway_id is required"),
    ("gateway_id", "gw-a", "gateway gw-a already exists (in zone A)"),
    ("gateway_id", "gw/c", "without spaces or slashes"),
    ("zone", "", "zone is required"),
    ("zone", "NOWHERE", "zone 'NOWHERE' does not exist"),
    ("x", "", "x is required"),
    ("y", "north", "y must be a number"),
    ("offset_db", "25", "offset_db 25 dB is out of range: use -20 to 20 dB"),
    ("offset_db", "loud", "offset_db must be a number"),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"), GATEWAY_ERRORS, ids=[f"{f}={v!r}" for f, v, _ in GATEWAY_ERRORS]
)
def test_each_gateway_error_names_the_field_and_keeps_the_form(
    app: Flask, client: FlaskClient, field: str, value: str, expected: str
) -> None:
    _admin(app, client)
    assert _post(client, "/tracking/setup/zones/new", ZONE_C).status_code == 302
    response = _post(client, "/tracking/setup/gateways/new", GATEWAY_C | {field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert expected in _error(page, field)
    if field != "x":
        assert 'name="x" value="29"' in page
    if field != "zone":
        assert '<option value="C" selected>' in page
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert session.scalar(select(Gateway).where(Gateway.x == 29.0)) is None


def test_admin_creates_edits_and_deletes_a_zone_with_audit_entries(app: Flask, client: FlaskClient) -> None:
    _admin(app, client)
    response = _post(client, "/tracking/setup/zones/new", ZONE_C | {"polygon": " 24, 0  34,0 34,8 24,8 "})
    assert response.status_code == 302
    zone_id = _zone_id(app, "C")
    assert response.headers["Location"].endswith(f"/tracking/setup/zones/{zone_id}")
    page = client.get(f"/tracking/setup/zones/{zone_id}").get_data(as_text=True)
    assert "Zone C created" in page and "24,0 34,0 34,8 24,8" in page and "No gateway yet" in page
    changed = ZONE_C | {"name": "Room C (isolation)", "polygon": "24,0 36,0 36,8 24,8", "max_radius_m": ""}
    assert _post(client, f"/tracking/setup/zones/{zone_id}", changed).status_code == 302
    assert _post(client, f"/tracking/setup/zones/{zone_id}", changed).status_code == 302  # no change: no entry
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        zone = session.get(Zone, zone_id)
        assert zone is not None and zone.name == "Room C (isolation)" and zone.max_radius_m is None
        assert zone.polygon == "24,0 36,0 36,8 24,8"
    response = _post(client, f"/tracking/setup/zones/{zone_id}/delete", {})
    assert response.status_code == 302 and response.headers["Location"].endswith("/tracking/setup/")
    assert "Zone C deleted" in client.get("/tracking/setup/").get_data(as_text=True)
    entries = _history(app, "tracking_zone", zone_id)
    assert [(e.action, e.actor) for e in entries] == [
        ("tracking.zone.create", "user:ada"),
        ("tracking.zone.update", "user:ada"),
        ("tracking.zone.delete", "user:ada"),
    ]
    assert entries[0].before is None and entries[0].after["polygon"] == "24,0 34,0 34,8 24,8"
    assert (entries[1].before["name"], entries[1].after["name"]) == ("Room C", "Room C (isolation)")
    assert (entries[1].before["max_radius_m"], entries[1].after["max_radius_m"]) == (9.0, None)
    assert entries[2].before["code"] == "C" and entries[2].after is None


def test_admin_adds_moves_recalibrates_and_deletes_a_gateway(app: Flask, client: FlaskClient) -> None:
    _admin(app, client)
    _post(client, "/tracking/setup/zones/new", ZONE_C)
    response = _post(client, "/tracking/setup/gateways/new", GATEWAY_C)
    assert response.status_code == 302
    pk = _gateway_pk(app, "gw-c")
    moved = GATEWAY_C | {"zone": "B", "x": "40", "y": "4", "offset_db": "-3"}
    response = _post(client, f"/tracking/setup/gateways/{pk}", moved)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "gw-c at (40, 4) is outside zone B&#39;s outline: check x and y" in page  # saved, with a warning
    zone_b = _zone_id(app, "B")
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        gateway = session.get(Gateway, pk)
        assert gateway is not None and (gateway.zone_id, gateway.x, gateway.offset_db) == (zone_b, 40, -3)
    response = _post(client, f"/tracking/setup/gateways/{pk}/delete", {})
    assert response.headers["Location"].endswith(f"/tracking/setup/zones/{zone_b}")
    entries = _history(app, "tracking_gateway", pk)
    assert [e.action for e in entries] == [
        "tracking.gateway.create",
        "tracking.gateway.update",
        "tracking.gateway.delete",
    ]
    assert entries[0].after == {"gateway_id": "gw-c", "zone": "C", "x": 29.0, "y": 4.0, "offset_db": 1.5}
    assert (entries[1].before["zone"], entries[1].after["zone"]) == ("C", "B")
    assert entries[2].before["gateway_id"] == "gw-c" and entries[2].after is None


def test_zone_delete_is_refused_while_gateways_or_equipment_remain(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    zone_b = floor.zone_ids["B"]
    response = _post(client, f"/tracking/setup/zones/{zone_b}/delete", {})
    assert response.status_code == 409
    page = html.unescape(response.get_data(as_text=True))
    assert "Zone B cannot be deleted: it still has 1 gateway(s) (gw-b): move them to another zone or delete" in page
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        pump = session.get(Asset, floor.asset_ids["A-1"])
        assert pump is not None
        pump.zone_id = zone_b  # the engine has located a pump there
    _post(client, f"/tracking/setup/gateways/{_gateway_pk(app, 'gw-b')}/delete", {})
    response = _post(client, f"/tracking/setup/zones/{zone_b}/delete", {})
    assert response.status_code == 409
    assert "1 asset(s) are located there now (A-1)" in html.unescape(response.get_data(as_text=True))
    response = _post(client, f"/tracking/setup/zones/{floor.zone_ids['A']}/delete", {})
    assert "3 asset(s) have it as home zone (A-1, A-2, A-3)" in html.unescape(response.get_data(as_text=True))
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert session.get(Zone, zone_b) is not None
        pump = session.get(Asset, floor.asset_ids["A-1"])
        assert pump is not None
        pump.zone_id = None
    assert _post(client, f"/tracking/setup/zones/{zone_b}/delete", {}).status_code == 302
    assert [e.action for e in _history(app, "tracking_zone", zone_b)] == ["tracking.zone.delete"]


def test_zone_code_is_fixed_once_equipment_was_located_there(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    zone_a = floor.zone_ids["A"]
    form = ZONE_C | {"code": "A1", "name": "Room A", "polygon": "0,0 10,0 10,8 0,8"}
    response = _post(client, f"/tracking/setup/zones/{zone_a}", form)
    assert response.status_code == 422
    assert "code A is the key of this zone's history and events" in _error(response.get_data(as_text=True), "code")
    zone_x = floor.zone_ids["X"]  # nothing was ever located in the exit: a mistyped code can still be fixed
    form = ZONE_C | {"code": "EXIT-1", "name": "Exit", "kind": "exit", "polygon": "20,0 24,0 24,8 20,8"}
    assert _post(client, f"/tracking/setup/zones/{zone_x}", form).status_code == 302
    assert _history(app, "tracking_zone", zone_x)[0].after["code"] == "EXIT-1"


def test_unknown_ids_are_not_found(app: Flask, client: FlaskClient) -> None:
    _admin(app, client)
    assert client.get("/tracking/setup/zones/9999").status_code == 404
    assert _post(client, "/tracking/setup/zones/9999", ZONE_C).status_code == 404
    assert _post(client, "/tracking/setup/zones/9999/delete", {}).status_code == 404
    assert client.get("/tracking/setup/gateways/9999").status_code == 404
    assert _post(client, "/tracking/setup/gateways/9999/delete", {}).status_code == 404


def test_setup_page_lists_zones_per_floor_with_their_gateways(app: Flask, client: FlaskClient) -> None:
    _admin(app, client)
    _post(client, "/tracking/setup/zones/new", ZONE_C | {"code": "L1", "building": "Annex", "floor": "1"})
    page = client.get("/tracking/setup/").get_data(as_text=True)
    assert page.index("No building · floor —") < page.index("Annex · floor 1")
    assert re.search(r'<li data-gateway="gw-a">.*?at 5, 4 · \+0 dB · up, heard never', page, re.S)
    embedded = re.search(r'id="floor-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    data = json.loads(embedded.group(1))
    assert {z["code"]: (z["building"], z["floor"]) for z in data["zones"]}["L1"] == ("Annex", "1")
    assert {g["gateway_id"] for g in data["gateways"]} == {"gw-a", "gw-b", "gw-x"}
    assert 'svg class="floor-map" data-building="Annex" data-floor="1"' in page
    assert "Export the setup (JSON)" in page


def test_export_then_load_into_an_empty_database_gives_the_same_setup(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    _admin(app, client)
    _post(client, "/tracking/setup/zones/new", ZONE_C | {"building": "Main", "floor": "2", "max_radius_m": "7.5"})
    _post(client, "/tracking/setup/gateways/new", GATEWAY_C | {"x": "29.25"})
    response = client.get("/tracking/setup/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert re.match(r'attachment; filename="tracking-setup-\d{8}-\d{4}\.json"', response.headers["Content-Disposition"])
    exported = response.get_json()
    assert exported["zones"][-1] == {
        "code": "C", "name": "Room C", "kind": "room", "building": "Main", "floor": "2", "unit": "ICU",
        "polygon": [[24, 0], [34, 0], [34, 8], [24, 8]], "max_radius_m": 7.5,
    }  # fmt: skip
    assert {"gateway_id": "gw-c", "zone": "C", "x": 29.25, "y": 4, "offset_db": 1.5} in exported["gateways"]
    assert len(exported["assets"]) == 3 and exported["par"] == [{"unit": "ICU", "type": "infusion_pump", "minimum": 2}]

    path = tmp_path / "backup.json"
    path.write_bytes(response.get_data())
    empty = f"sqlite:///{tmp_path / 'restored.db'}"
    engine = make_engine(empty)
    load_all_models().create_all(engine)
    engine.dispose()
    from web.app import create_app

    restored = create_app({"DATABASE_URL": empty, "INSTANCE_PATH": str(tmp_path / "restored"), "TESTING": True})
    result = restored.test_cli_runner().invoke(args=["tracking", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 4 zones, 4 gateways, 3 assets, 1 par; 0 rows refused" in result.output
    again = restored.test_cli_runner().invoke(args=["tracking", "export"])
    assert json.loads(again.output) == exported
    with (
        unit_of_work(app.extensions["vendtrack"].session_factory) as source,
        unit_of_work(restored.extensions["vendtrack"].session_factory) as target,
    ):
        assert load_floor(target) == load_floor(source)  # what the engine sees is the same too


def _pipeline(app: Flask, reload_s: float) -> tuple[Pipeline, ManualClock]:
    services = app.extensions["vendtrack"]
    clock = ManualClock()
    pipeline = Pipeline(services.session_factory, clock, settings=TrackingSettings(floor_reload_s=reload_s))
    pipeline.refresh_floor(force=True)
    return pipeline, clock


def _hear(pipeline: Pipeline, clock: ManualClock, seconds: int, levels: dict[str, int]) -> None:
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, tag_key(1), rssi, -59, None, None, now) for gw, rssi in levels.items()])
        clock.advance(seconds=1)
    pipeline.flush()


def _pump_zone(app: Flask, floor: Floor) -> int | None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        pump = session.get(Asset, floor.asset_ids["A-1"])
        assert pump is not None
        return pump.zone_id


def test_running_engine_uses_a_gateway_added_through_the_ui(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    pipeline, clock = _pipeline(app, reload_s=3600.0)  # no periodic reload: only the pages' hook can tell it
    app.extensions["vendtrack"].extras[EXTRAS_KEY] = pipeline
    other_process, _ = _pipeline(app, reload_s=0.0)  # another process's engine: reloads at its next flush
    _post(client, "/tracking/setup/zones/new", ZONE_C)
    _post(client, "/tracking/setup/gateways/new", GATEWAY_C)
    assert (
        pipeline.engine.floor.gateways["gw-c"].zone == "C" and pipeline.engine.floor.gateways["gw-c"].offset_db == 1.5
    )
    _hear(pipeline, clock, 5, {"gw-c": -60, "gw-a": -85})  # MQTT-style ingest: no reload on unknown gateways
    assert _pump_zone(app, floor) == _zone_id(app, "C")
    assert "gw-c" not in other_process.engine.floor.gateways
    other_process.flush()
    assert other_process.engine.floor.gateways["gw-c"].zone == "C"

    pk = _gateway_pk(app, "gw-c")  # moving the gateway to room B takes the pump with it
    _post(client, f"/tracking/setup/gateways/{pk}", GATEWAY_C | {"zone": "B", "x": "15", "y": "6"})
    assert pipeline.engine.floor.gateways["gw-c"].zone == "B"
    _hear(pipeline, clock, 10, {"gw-c": -60, "gw-a": -85})
    assert _pump_zone(app, floor) == floor.zone_ids["B"]


def test_non_admins_are_refused(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    zone_b = floor.zone_ids["B"]
    staff = app.test_client()
    login(staff, "nurse", "harbour-violet-5")
    page = staff.get("/tracking/setup/")
    assert page.status_code == 200  # those who locate equipment may look at the floor set-up...
    assert "gw-b" in page.get_data(as_text=True) and "New zone" not in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    for url in ("/tracking/setup/zones/new", f"/tracking/setup/zones/{zone_b}", "/tracking/setup/export.json"):
        assert staff.get(url).status_code == 403  # ...but not edit or export it
    for url, form in (
        ("/tracking/setup/zones/new", ZONE_C),
        (f"/tracking/setup/zones/{zone_b}/delete", {}),
        (f"/tracking/setup/gateways/{_gateway_pk(app, 'gw-b')}/delete", {}),
        ("/tracking/setup/gateways/new", GATEWAY_C | {"zone": "A"}),
    ):
        assert staff.post(url, data=form | {"csrf_token": token}).status_code == 403
    restocker = app.test_client()
    login(restocker, "rita", "juniper-canyon-8")
    assert restocker.get("/tracking/setup/").status_code == 403
    anonymous = app.test_client().get("/tracking/setup/zones/new")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        plain, _ = create_token(session, "reader", [TokenScope.READ])
    bearer = {"Authorization": f"Bearer {plain}"}
    assert app.test_client().get("/tracking/setup/export.json", headers=bearer).status_code in (401, 403)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert sorted(session.scalars(select(Zone.code))) == ["A", "B", "X"]
        assert session.scalar(select(Gateway.id).where(Gateway.gateway_id == "gw-b")) is not None
        assert not [e for e in audit.recent(session) if e.action.startswith("tracking.")]


def test_post_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    for url, form in (
        ("/tracking/setup/zones/new", ZONE_C),
        (f"/tracking/setup/zones/{floor.zone_ids['X']}/delete", {}),
        ("/tracking/setup/gateways/new", GATEWAY_C | {"zone": "A"}),
    ):
        assert client.post(url, data=form).status_code == 400
        assert client.post(url, data=form | {"csrf_token": "forged"}).status_code == 400
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert sorted(session.scalars(select(Zone.code))) == ["A", "B", "X"]
        assert session.scalar(select(Gateway.id).where(Gateway.gateway_id == "gw-c")) is None


@pytest.mark.browser
def test_admin_draws_a_zone_and_places_a_gateway_on_the_preview_map(
    app: Flask, live_server: LiveServer, page: Any
) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        create_user(session, "ada", "ada-password", [Role.ADMIN])
    page.goto(live_server.url + "/tracking/setup/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "ada-password")
    page.click("button[type=submit]")
    page.locator("svg.floor-map polygon.zone").nth(2).wait_for()  # drawn by the page's script
    assert page.locator("svg.floor-map polygon.zone").count() == 3
    page.click("#new-zone")
    page.fill("input[name=code]", "C")
    page.fill("input[name=name]", "Room C")
    page.fill("textarea[name=polygon]", "24,0 34,0 34,8")
    draft = page.locator("#setup-map polygon.zone.draft")
    draft.wait_for()
    assert draft.get_attribute("points") == "24,0 34,0 34,8"  # drawn while typing, before saving
    assert page.locator("#setup-map polygon.zone").count() == 4  # beside the floor's saved zones
    box = page.locator("#setup-map").bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + box["height"] * 0.3)  # a fourth corner, clicked on the map
    corners = page.locator("textarea[name=polygon]").input_value().split()
    assert len(corners) == 4 and draft.get_attribute("points") == " ".join(corners)
    page.fill("textarea[name=polygon]", "24,0 34,0 34,8 24,8")
    page.click("#zone-form button[type=submit]")
    assert "Zone C created" in page.locator("main").inner_text()
    page.click("#add-gateway")
    page.locator("#setup-map polygon.zone.selected").wait_for()
    assert page.locator("select[name=zone]").input_value() == "C"
    page.fill("input[name=gateway_id]", "gw-c")
    box = page.locator("#setup-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # place it by clicking
    x, y = float(page.locator("input[name=x]").input_value()), float(page.locator("input[name=y]").input_value())
    assert page.locator('#setup-map rect.gw.draft[data-gateway="gw-c"]').count() == 1
    page.fill("input[name=x]", "29")
    page.fill("input[name=y]", "4")
    page.click("#gateway-form button[type=submit]")
    assert "Gateway gw-c added to C" in page.locator("main").inner_text()
    page.click("text=← Zones and gateways")
    saved = page.locator('svg.floor-map polygon.zone[data-zone="C"]')
    saved.wait_for()
    assert saved.get_attribute("points") == "24,0 34,0 34,8 24,8"
    square = page.locator('svg.floor-map rect.gw[data-gateway="gw-c"]')
    assert (float(square.get_attribute("x")), float(square.get_attribute("y"))) == (28.75, 3.75)
    assert page.locator('tr[data-zone="C"] li[data-gateway="gw-c"]').count() == 1
    assert (x, y) != (0.0, 0.0)


def test_a_german_admin_reads_field_errors_refusals_and_results_in_german(app: Flask, client: FlaskClient) -> None:
    floor = _admin(app, client)
    client.set_cookie("vendtrack_lang", "de")
    response = _post(client, "/tracking/setup/zones/new", ZONE_C | {"polygon": "0,0 8,0", "kind": "ballroom"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _error(page, "polygon").startswith("das Polygon hat 2 Punkt(e), braucht aber mindestens 3: schreiben Sie")
    assert _error(page, "kind") == (
        "die Art 'ballroom' ist unbekannt: verwenden Sie eine von room, corridor, exit, soiled_utility"
    )
    response = _post(client, f"/tracking/setup/zones/{floor.zone_ids['B']}/delete", {})
    assert response.status_code == 409
    assert "Zone B kann nicht gelöscht werden: sie hat noch 1 Gateway(s) (gw-b): verschieben Sie" in html.unescape(
        response.get_data(as_text=True)
    )
    created = _post(client, "/tracking/setup/zones/new", ZONE_C)
    assert created.status_code == 302
    assert "Zone C angelegt. Fügen Sie als Nächstes ihre Gateways hinzu." in client.get(
        created.headers["Location"]
    ).get_data(as_text=True)
    client.set_cookie("vendtrack_lang", "en")  # the same refusal in English: the default is unchanged
    response = _post(client, f"/tracking/setup/zones/{floor.zone_ids['B']}/delete", {})
    assert "Zone B cannot be deleted: it still has 1 gateway(s)" in html.unescape(response.get_data(as_text=True))
