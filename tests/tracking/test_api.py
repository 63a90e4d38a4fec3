"""The gateway batch endpoint, the locate JSON API and the staff pages, through the Flask test client."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import csrf_from, login
from tests.tracking.conftest import Floor, advert_hex, seed_floor
from tracking import inbox
from tracking.pipeline import pipeline_for
from tracking.sources.batch import MAX_ADVERTS


def _setup(app: Flask) -> tuple[Floor, dict[str, str]]:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        floor = seed_floor(session)
        gateway, _ = create_token(session, "gw", [TokenScope.GATEWAY])
        reader, _ = create_token(session, "reader", [TokenScope.READ])
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
    return floor, {"gateway": f"Bearer {gateway}", "read": f"Bearer {reader}"}


def _post(client: FlaskClient, gateway: str, token: str, adverts: list[Any]) -> Any:
    return client.post(
        f"/api/v1/gateways/{gateway}/adverts", json={"adverts": adverts}, headers={"Authorization": token}
    )


def _locate_pump_in_a(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    pipeline = pipeline_for(app.extensions["vendtrack"])
    for _ in range(3):
        for gateway, rssi in (("gw-a", -58), ("gw-b", -80)):
            good = [{"address": "AA:00:00:00:00:01", "rssi": rssi, "data": advert_hex(1)}]
            assert _post(client, gateway, tokens["gateway"], good).status_code == 200
    engine = pipeline.engine
    for t in range(1, 4):  # three more seconds of adverts, in engine time
        engine.observe(f"ib-e2c56db5dffb48d2b060d0f5a71096e0-1-{1}", "gw-a", -58, -59, pipeline.now() + t)
    pipeline.flush()


def test_batch_keeps_good_entries_and_reports_bad_ones_by_index(app: Flask, client: FlaskClient) -> None:
    _floor, tokens = _setup(app)
    adverts = [
        {"address": "AA:00:00:00:00:01", "rssi": -60, "data": advert_hex(1)},
        {"address": "AA:00:00:00:00:02", "rssi": "loud", "data": advert_hex(2)},
        {"address": "AA:00:00:00:00:03", "rssi": -61, "data": "zz"},
        {"address": "AA:00:00:00:00:04", "rssi": -62, "data": "020106"},  # no beacon frame: ignored
        {"rssi": -62, "data": advert_hex(3)},
    ]
    response = _post(client, "gw-a", tokens["gateway"], adverts)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["accepted"], body["ignored"]) == (1, 1)
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(1, "rssi"), (2, "data"), (4, "address")]
    assert "hex" in body["rejected"][1]["message"]


def test_a_batch_of_only_ignored_adverts_is_answered_and_queues_nothing(app: Flask, client: FlaskClient) -> None:
    _floor, tokens = _setup(app)
    ignored = [{"address": f"AA:00:00:00:00:0{n}", "rssi": -62, "data": "020106"} for n in range(3)]  # flags only
    response = _post(client, "gw-a", tokens["gateway"], ignored)
    assert response.status_code == 200
    assert response.get_json() == {"gateway_id": "gw-a", "accepted": 0, "ignored": 3, "rejected": []}
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert inbox.backlog(session) == (0, None)
    good = [{"address": "AA:00:00:00:00:01", "rssi": -60, "data": advert_hex(1)}]
    assert _post(client, "gw-a", tokens["gateway"], good).get_json()["accepted"] == 1
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert inbox.backlog(session)[0] == 1, "an accepted advert is queued for the engine"


def test_batch_limits_and_errors_name_the_fix(app: Flask, client: FlaskClient) -> None:
    _floor, tokens = _setup(app)
    too_many = [{"address": "A", "rssi": -60, "data": advert_hex(1)}] * (MAX_ADVERTS + 1)
    response = _post(client, "gw-a", tokens["gateway"], too_many)
    assert response.status_code == 413
    assert response.get_json()["error"]["field"] == "adverts" and "split" in response.get_json()["error"]["message"]
    response = _post(client, "gw-nowhere", tokens["gateway"], [])
    assert response.status_code == 404 and "register" in response.get_json()["error"]["message"]
    response = client.post("/api/v1/gateways/gw-a/adverts", data="x", headers={"Authorization": tokens["gateway"]})
    assert response.status_code == 415
    assert _post(client, "gw-a", tokens["read"], []).status_code == 403


def test_locate_api_reports_room_confidence_and_last_seen(app: Flask, client: FlaskClient) -> None:
    floor, tokens = _setup(app)
    _locate_pump_in_a(app, client, tokens)
    listing = client.get("/api/v1/assets?q=pump", headers={"Authorization": tokens["read"]}).get_json()
    assert [a["asset_tag"] for a in listing["assets"]] == ["A-1", "A-2"]
    asset_id = floor.asset_ids["A-1"]
    body = client.get(f"/api/v1/assets/{asset_id}/location", headers={"Authorization": tokens["read"]}).get_json()
    assert body["location"]["zone"] == "A" and body["location"]["zone_name"] == "Room A"
    assert 0.5 < body["location"]["confidence"] <= 1.0 and body["location"]["last_seen_ago_s"] is not None
    assert "gw-a strongest" in body["location"]["reason"]
    missing = client.get("/api/v1/assets/99999/location", headers={"Authorization": tokens["read"]})
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "asset_id"
    nearest = client.get("/api/v1/assets/nearest?type=infusion_pump&from=B", headers={"Authorization": tokens["read"]})
    assert [(a["asset_tag"], a["distance_m"]) for a in nearest.get_json()["assets"]] == [("A-1", 10.0)]
    bad = client.get("/api/v1/assets/nearest?type=infusion_pump&from=NOPE", headers={"Authorization": tokens["read"]})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "from_zone"


def test_staff_pages_and_status_transitions(app: Flask, client: FlaskClient) -> None:
    floor, tokens = _setup(app)
    _locate_pump_in_a(app, client, tokens)
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/?q=pump").get_data(as_text=True)
    assert "Infusion pump 1" in page and "Room A" in page and "just now" in page
    page = client.get("/tracking/?type=infusion_pump&from=B").get_data(as_text=True)
    assert "Infusion pump: nearest available to Room B" in page and "10.0 m" in page
    asset_id = floor.asset_ids["A-1"]
    detail = client.get(f"/tracking/assets/{asset_id}").get_data(as_text=True)
    assert "Movement history" in detail and "Check out (in use)" in detail
    token = csrf_from(detail)
    response = client.post(f"/tracking/assets/{asset_id}/check-out", data={"csrf_token": token})
    assert response.status_code == 302
    again = client.post(f"/tracking/assets/{asset_id}/check-out", data={"csrf_token": token})
    assert again.status_code == 409
    assert "Return (dirty)" in client.get(f"/tracking/assets/{asset_id}").get_data(as_text=True)
    par = client.get("/tracking/par").get_data(as_text=True)
    assert "below PAR" in par
    assert client.get("/tracking/alerts").status_code == 200
    live = client.get("/api/v1/tracking/map").get_json()
    assert {z["code"] for z in live["zones"]} == {"A", "B", "X"} and len(live["gateways"]) == 3
