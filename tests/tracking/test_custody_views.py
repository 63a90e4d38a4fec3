"""The Tools out page (shift-end report, CSV, one holder), the asset page's custody section, and the zone form's
must-return (FOD) limit with its refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.events import ToolCheckedOut
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.tracking.conftest import seed_floor
from tests.tracking.test_setup_views import ZONE_C, _post
from tracking import custody
from tracking.models import Asset, Zone


def _lend(app: Flask) -> int:
    factory = app.extensions["vendtrack"].session_factory
    now = app.extensions["vendtrack"].clock.now()
    with unit_of_work(factory) as s:
        floor = seed_floor(s)
        create_user(s, "ada", "ada-password", [Role.ADMIN])
        create_user(s, "nurse", "harbour-violet-5", [Role.STAFF])
        create_user(s, "rita", "juniper-canyon-8", [Role.RESTOCKER])
        asset = s.get(Asset, floor.asset_ids["A-1"])
        assert asset is not None
        asset.zone_id, asset.zone_since = floor.zone_ids["B"], now - timedelta(minutes=45)
        zone = s.get(Zone, floor.zone_ids["B"])
        assert zone is not None
        zone.fod_limit_min = 30
        lent = ToolCheckedOut(
            occurred_at=now - timedelta(hours=1),
            site_code="",
            serial="A-1",
            sku="PUMP",
            worker="W003",
            worker_name="Dana Fox",
            machine="LOCKER-1",
            charge_code="WO-7",
            due_at=now - timedelta(minutes=5),
        )
        custody.handle_event(s, lent)
        return asset.id


def test_tools_out_page_csv_and_asset_custody(app: Flask, client: FlaskClient) -> None:
    asset_id = _lend(app)
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/custody/").get_data(as_text=True)
    assert "Room B" in page and "W003 Dana Fox" in page and "45 min of 30 (FOD)" in page and "overdue" in page
    assert 'id="tools-out-count">1<' in page
    assert "No tools are out with W999" in client.get("/tracking/custody/?holder=W999").get_data(as_text=True)
    csv_text = client.get("/tracking/custody/?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[1].startswith("Room B,A-1,Infusion pump 1,W003,Dana Fox,LOCKER-1,WO-7,")
    assert ",yes,yes," in csv_text.splitlines()[1]  # overdue and over the FOD limit
    detail = client.get(f"/tracking/assets/{asset_id}").get_data(as_text=True)
    assert 'id="custody-now"' in detail and "charged to WO-7" in detail and "over the limit" in detail
    assert client.get("/tracking/custody/?holder=" + "x" * 65).status_code == 422


def test_tools_out_needs_staff(app: Flask, client: FlaskClient) -> None:
    _lend(app)
    login(client, "rita", "juniper-canyon-8")
    assert client.get("/tracking/custody/").status_code == 403


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "NaN", "1e9", "abc"])
def test_zone_form_refuses_bad_fod_limits(app: Flask, client: FlaskClient, value: str) -> None:
    _lend(app)
    login(client, "ada", "ada-password")
    response = _post(client, "/tracking/setup/zones/new", ZONE_C | {"fod_limit_min": value})
    assert response.status_code == 422 and "fod_limit_min" in response.get_data(as_text=True)


def test_zone_form_saves_a_fod_limit(app: Flask, client: FlaskClient) -> None:
    _lend(app)
    login(client, "ada", "ada-password")
    assert _post(client, "/tracking/setup/zones/new", ZONE_C | {"fod_limit_min": "20"}).status_code == 302
    with app.extensions["vendtrack"].session_factory() as s:
        assert s.scalar(select(Zone.fod_limit_min).where(Zone.code == "C")) == 20
