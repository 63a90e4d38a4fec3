"""The locate map one floor at a time: the map JSON per floor, floor errors, and the locate page's floor choice."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.errors import DomainError
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import login
from tests.tracking.conftest import Floor, seed_floor, seed_two_floors
from tracking.services import FloorRef, choose_floor, floors


def _setup(app: Flask, two_floors: bool = True) -> tuple[Floor, dict[str, str]]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_two_floors(session) if two_floors else seed_floor(session)
        reader, _ = create_token(session, "reader", [TokenScope.READ])
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
    return floor, {"Authorization": f"Bearer {reader}"}


def test_map_json_has_only_the_chosen_floors_zones_and_gateways(app: Flask, client: FlaskClient) -> None:
    _floor, auth = _setup(app)
    first = client.get("/api/v1/tracking/map", headers=auth).get_json()  # no floor given: the first one
    assert first["floor"] == {"building": "Ward B", "floor": "1", "label": "Ward B, floor 1"}
    assert [f["label"] for f in first["floors"]] == ["Ward B, floor 1", "Ward B, floor 2"]
    assert {z["code"] for z in first["zones"]} == {"101", "102"}
    assert {g["gateway_id"] for g in first["gateways"]} == {"gw-101", "gw-102"}
    second = client.get("/api/v1/tracking/map?building=Ward+B&floor=2", headers=auth).get_json()
    assert second["floor"]["label"] == "Ward B, floor 2"
    assert {(z["code"], z["building"], z["floor"]) for z in second["zones"]} == {
        ("201", "Ward B", "2"),
        ("204", "Ward B", "2"),
    }
    assert {g["gateway_id"] for g in second["gateways"]} == {"gw-201", "gw-204"}
    # Assets are every match of q on any floor, each saying where it is, so lists can name other floors.
    where = {
        a["name"]: (a["location"]["zone"], a["location"]["building"], a["location"]["floor"]) for a in second["assets"]
    }
    assert where == {
        "Infusion pump 1": ("101", "Ward B", "1"),
        "Infusion pump 2": ("204", "Ward B", "2"),
        "Wheelchair 1": ("201", "Ward B", "2"),
    }
    pumps = client.get("/api/v1/tracking/map?q=pump&floor=2", headers=auth).get_json()  # floor alone is enough here
    assert pumps["floor"]["floor"] == "2" and [a["name"] for a in pumps["assets"]] == [
        "Infusion pump 1",
        "Infusion pump 2",
    ]


def test_unknown_floor_or_building_names_the_parameter_and_the_known_floors(app: Flask, client: FlaskClient) -> None:
    _floor, auth = _setup(app)
    bad = client.get("/api/v1/tracking/map?building=Ward+B&floor=7", headers=auth)
    assert bad.status_code == 400
    error = bad.get_json()["error"]
    assert error["field"] == "floor"
    assert "'7'" in error["message"] and "Ward B, floor 1" in error["message"] and "Ward B, floor 2" in error["message"]
    bad = client.get("/api/v1/tracking/map?building=Annex&floor=1", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "building"
    assert "'Annex'" in bad.get_json()["error"]["message"] and "Ward B, floor 2" in bad.get_json()["error"]["message"]


def test_nearest_ranks_the_origins_floor_first_and_gives_no_distance_across_floors(
    app: Flask, client: FlaskClient
) -> None:
    _floor, auth = _setup(app)
    # Room 101 lies exactly below Room 201: the same coordinates, but not 0 m away.
    body = client.get("/api/v1/assets/nearest?type=infusion_pump&from=201", headers=auth).get_json()
    assert [(a["asset_tag"], a["distance_m"], a["location"]["floor"]) for a in body["assets"]] == [
        ("W-2", 10.0, "2"),
        ("W-1", None, "1"),
    ]


def test_choose_floor_needs_the_building_when_a_floor_number_is_in_two() -> None:
    known = [FloorRef("Annex", "1"), FloorRef("Ward B", "1"), FloorRef("Ward B", "2")]
    assert choose_floor(known, None, None) == FloorRef("Annex", "1")
    assert choose_floor(known, "Ward B", None) == FloorRef("Ward B", "1")
    assert choose_floor(known, None, "2") == FloorRef("Ward B", "2")
    with pytest.raises(DomainError) as info:
        choose_floor(known, None, "1")
    assert info.value.field == "building" and "Annex, floor 1" in info.value.message
    assert choose_floor([], None, None) is None
    assert FloorRef("", "3").label == "floor 3" and FloorRef("Main", "").label == "Main"


def test_floors_are_in_natural_order(app: Flask) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_two_floors(session)
        from tracking.models import Zone

        session.add(
            Zone(code="1001", name="Roof plant", kind="room", building="Ward B", floor="10", polygon="0,0 1,0 1,1")
        )
        session.flush()
        assert [f.floor for f in floors(session)] == ["1", "2", "10"]


def test_locate_page_opens_on_the_first_results_floor_or_the_linked_one(app: Flask, client: FlaskClient) -> None:
    floor, _auth = _setup(app)
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/").get_data(as_text=True)
    assert 'id="floor-picker"' in page and 'data-floor="1"' in page and 'data-floor-source="default"' in page
    page = client.get("/tracking/?q=wheelchair").get_data(as_text=True)  # the wheelchair is on floor 2
    assert re.search(r'id="floor-map"[^>]*data-floor="2"', page, re.S)
    assert f'data-highlight="{floor.asset_ids["W-3"]}"' in page and 'data-floor-source="result"' in page
    assert "Room 201" in page and "· Ward B, floor 2" in page
    page = client.get("/tracking/?q=pump").get_data(as_text=True)  # first result: pump 1, floor 1
    assert re.search(r'id="floor-map"[^>]*data-floor="1"', page, re.S) and "· Ward B, floor 2" in page
    page = client.get("/tracking/?q=pump&building=Ward+B&floor=2").get_data(as_text=True)  # a link wins
    assert re.search(r'id="floor-map"[^>]*data-floor="2"', page, re.S) and 'data-floor-source="link"' in page
    assert re.search(r'data-floor="2"\s+aria-current="true"', page)
    page = client.get("/tracking/?type=infusion_pump&from=201").get_data(as_text=True)
    assert "Infusion pump: nearest available to Room 201" in page and "10.0 m" in page and "other floor" in page
    assert re.search(r'id="floor-map"[^>]*data-floor="2"', page, re.S)  # the nearest one, pump 2, is on floor 2
    assert f'data-highlight="{floor.asset_ids["W-2"]}"' in page
    page = client.get("/tracking/?floor=9").get_data(as_text=True)  # a stale link: said, and the first floor shown
    assert "unknown floor &#39;9&#39;" in page and re.search(r'id="floor-map"[^>]*data-floor="1"', page, re.S)


def test_single_floor_site_has_no_floor_picker(app: Flask, client: FlaskClient) -> None:
    _floor, auth = _setup(app, two_floors=False)
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/?q=pump").get_data(as_text=True)
    assert "floor-picker" not in page and "show-on-map" not in page and 'class="where"' not in page
    live = client.get("/api/v1/tracking/map", headers=auth).get_json()
    assert len(live["floors"]) == 1 and {z["code"] for z in live["zones"]} == {"A", "B", "X"}
