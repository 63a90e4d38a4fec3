"""Admin pages: sites, cost centers, user roles and deactivation, each audited."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.models import CostCenter, Site, User
from core.roles import Role
from core.users import create_user
from tests.conftest import csrf_from, login


def _admin(app: Flask, client: FlaskClient) -> str:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "root", "root-password", [Role.ADMIN])
        create_user(session, "sam", "sam-password", [Role.STAFF])
    login(client, "root", "root-password")
    return csrf_from(client.get("/admin/sites").get_data(as_text=True))


def test_sites_and_cost_centers(app: Flask, client: FlaskClient) -> None:
    token = _admin(app, client)
    client.post(
        "/admin/sites", data={"code": "plant9", "name": "Plant <9>", "ship_to_address": "Dock 1", "csrf_token": token}
    )
    duplicate = client.post(
        "/admin/sites", data={"code": "PLANT9", "name": "Again", "csrf_token": token}, follow_redirects=True
    )
    assert "site PLANT9 exists already" in duplicate.get_data(as_text=True)
    bad = client.post(
        "/admin/cost-centers",
        data={"code": "cc1", "name": "Ops", "site_code": "NOPE", "csrf_token": token},
        follow_redirects=True,
    )
    assert "no site with code &#39;NOPE&#39;" in bad.get_data(as_text=True)
    client.post("/admin/cost-centers", data={"code": "cc1", "name": "Ops", "site_code": "plant9", "csrf_token": token})
    page = client.get("/admin/sites").get_data(as_text=True)
    assert "Plant &lt;9&gt;" in page, "names are escaped"
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        site = session.scalar(select(Site).where(Site.code == "PLANT9"))
        assert site is not None
        cc = session.scalar(select(CostCenter).where(CostCenter.code == "CC1"))
        assert cc is not None and cc.site_id == site.id


def test_user_roles_change_and_self_lockout_refused(app: Flask, client: FlaskClient) -> None:
    token = _admin(app, client)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        ids = {u.username: u.id for u in session.scalars(select(User))}
    client.post(f"/admin/users/{ids['sam']}", data={"roles": ["staff", "restocker"], "csrf_token": token})
    refused = client.post(
        f"/admin/users/{ids['root']}",
        data={"roles": ["staff"], "active": "on", "csrf_token": token},
        follow_redirects=True,
    )
    assert "cannot remove your own admin role" in refused.get_data(as_text=True)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        sam = session.get(User, ids["sam"])
        root = session.get(User, ids["root"])
        assert sam is not None and sam.role_set() == {"restocker", "staff"} and sam.active is False
        assert root is not None and "admin" in root.role_set()
    other = app.test_client()
    token_page = other.get("/login").get_data(as_text=True)
    response = other.post(
        "/login", data={"username": "sam", "password": "sam-password", "csrf_token": csrf_from(token_page)}
    )
    assert response.status_code == 401, "a deactivated user cannot log in"
    assert "user.update" in client.get("/admin/audit").get_data(as_text=True)
