"""The queue's equipment requests (procurement.equipment_views): the reason shown, order and dismiss, hostile input."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from procurement.models import EquipmentRequest
from tests.conftest import csrf_from, login
from tests.procurement.conftest import seed_world
from tests.procurement.test_equipment import REASON, _deliver, _shortfall


def _setup(app: Flask) -> int:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory, ManualClock(SystemClock().now()))
    with unit_of_work(factory) as s:
        create_user(s, "bob", "bob-password", [Role.PROCUREMENT, Role.APPROVER])
        create_user(s, "ann", "nna-password", [Role.APPROVER])
    world.publish(_shortfall(world))  # no item bought as infusion_pump: the request waits with the problem
    _deliver(world)
    with world.session() as s:
        request_id = s.scalar(select(EquipmentRequest.id))
    assert request_id is not None
    return request_id


def _post(client: FlaskClient, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    token = csrf_from(client.get("/procurement/").get_data(as_text=True))
    reply = client.post(url, data={"csrf_token": token, **(data or {})})
    return reply.status_code, reply.get_data(as_text=True)


def test_queue_shows_the_reason_and_hostile_input_gets_clear_refusals(app: Flask, client: FlaskClient) -> None:
    request_id = _setup(app)
    login(client, "bob", "bob-password")
    html = client.get("/procurement/").get_data(as_text=True)
    assert REASON in html and "no catalogue item is bought as asset type" in html
    base = f"/procurement/equipment/{request_id}"
    for note in ("", "   ", "x" * 501):
        status, body = _post(client, f"{base}/dismiss", {"note": note})
        assert status == 422 and "note" in body
    assert _post(client, "/procurement/equipment/999999/dismiss", {"note": "no"})[0] == 404
    assert _post(client, "/procurement/equipment/abc/dismiss", {"note": "no"})[0] == 404
    assert _post(client, "/procurement/equipment/99999999999999999999/order")[0] == 404
    status, body = _post(client, f"{base}/order")  # still no item for the asset type: refused with the fix
    assert status in (400, 422) and "set asset_type on an item" in body
    assert _post(client, f"{base}/dismiss", {"note": "two pumps back from repair"})[0] == 302
    assert _post(client, f"{base}/dismiss", {"note": "again"})[0] == 409
    other = app.test_client()
    login(other, "ann", "nna-password")  # an approver is no buyer
    token = csrf_from(other.get("/procurement/").get_data(as_text=True))
    assert other.post(f"{base}/order", data={"csrf_token": token}).status_code == 403
