"""Kiosk and worker languages set on the admin pages (vending.languages): saved with an audit entry, a bad code
refused with a 422 naming the field and every supported code, and a non-admin refused."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import seed_world
from vending.models import Machine, Worker


def _token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def test_admin_sets_kiosk_and_worker_languages(app: Flask, client: FlaskClient) -> None:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        create_user(s, "boss", "velvet-compass-9", [Role.ADMIN])
        create_user(s, "crib", "granite-bicycle-3", [Role.RESTOCKER])
    login(client, "boss", "velvet-compass-9")
    token = _token(client, f"/vending/machines/{world.machine_id}")
    saved = client.post(f"/vending/machines/{world.machine_id}/language", data={"language": "es", "csrf_token": token})
    assert saved.status_code == 302
    bad = client.post(
        f"/vending/machines/{world.machine_id}/language", data={"language": "klingon", "csrf_token": token}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "not a supported language" in text and "de (Deutsch), en (English), es (Español)" in text
    worker_id = world.workers["W2"]
    assert (
        client.post(
            f"/vending/workers/{worker_id}/language", data={"language": "de-AT", "csrf_token": token}
        ).status_code
        == 302
    )
    page = client.get("/vending/workers").get_data(as_text=True)
    assert 'value="de" lang="de" selected' in page
    created = client.post(
        "/vending/workers",
        data={"worker_code": "W50", "name": "Fifty", "site": "S1", "language": "xx", "csrf_token": token},
    )
    assert created.status_code == 422 and "&#39;xx&#39; is not a supported language" in created.get_data(as_text=True)
    with factory() as s:
        assert s.scalar(select(Machine.language).where(Machine.id == world.machine_id)) == "es"
        assert s.scalar(select(Worker.language).where(Worker.id == worker_id)) == "de"
        assert s.scalar(select(Worker.id).where(Worker.worker_code == "W50")) is None
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"vending.machine.language", "vending.worker.language"} <= actions
    restocker = app.test_client()
    login(restocker, "crib", "granite-bicycle-3")
    refused = restocker.post(
        f"/vending/workers/{worker_id}/language", data={"language": "es", "csrf_token": _token(restocker, "/vending/")}
    )
    assert refused.status_code == 403
