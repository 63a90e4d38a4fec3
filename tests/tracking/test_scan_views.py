"""tracking.scan_views: an asset label's link opens the asset; the scan button's resolver takes the tag or a link."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.tracking.conftest import Floor, seed_floor


def _staff(app: Flask, client: FlaskClient) -> Floor:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
        create_user(session, "paul", "pine-harbour-42", [Role.PROCUREMENT])
    login(client, "nina", "walnut-lantern-7")
    return floor


def _resolve(client: FlaskClient, code: str) -> tuple[int, dict[str, object]]:
    answer = client.get("/tracking/scan", query_string={"code": code})
    return answer.status_code, answer.get_json()


def test_the_tag_or_a_link_to_this_server_opens_the_asset(app: Flask, client: FlaskClient) -> None:
    floor = _staff(app, client)
    pump = floor.asset_ids["A-2"]
    page = f"/tracking/assets/{pump}"
    for code in ("A-2", " a-2 ", "http://localhost/tracking/tag/A-2", f"http://localhost{page}"):
        assert _resolve(client, code) == (200, {"url": page, "asset_tag": "A-2", "name": "Infusion pump 2"}), code
    label = client.get("/tracking/tag/A-2")
    assert label.status_code == 302 and label.headers["Location"] == page


def test_refusals_name_the_fix(app: Flask, client: FlaskClient) -> None:
    _staff(app, client)
    status, body = _resolve(client, "https://elsewhere.example/tracking/tag/A-2")
    error = body["error"]
    assert status == 422 and isinstance(error, dict) and error["field"] == "code"
    assert "another server (elsewhere.example), not to this vendtrack (localhost)" in str(error["message"])
    status, body = _resolve(client, "A-99")
    assert status == 404 and "no asset has the tag 'A-99'" in str(body["error"])
    status, body = _resolve(client, "http://localhost/procurement/po/PO-1")
    assert status == 422 and "not_an_asset" in str(body["error"]) and "not an asset" in str(body["error"])
    status, body = _resolve(client, "")
    assert status == 422 and "scan a label, or type its code, first" in str(body["error"])
    assert client.get("/tracking/tag/NOPE").status_code == 404


def test_only_staff_may_look_assets_up(app: Flask, client: FlaskClient) -> None:
    _staff(app, client)
    other = app.test_client()
    login(other, "paul", "pine-harbour-42")
    assert other.get("/tracking/scan", query_string={"code": "A-2"}).status_code == 403
    assert app.test_client().get("/tracking/scan", query_string={"code": "A-2"}).status_code in (302, 401)
