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
        create_user(session, "root", "copper-kettle-41", [Role.ADMIN])
        create_user(session, "sam", "mas-password", [Role.STAFF])
    login(client, "root", "copper-kettle-41")
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


def test_site_edit_validates_time_zone_and_country_and_is_audited(app: Flask, client: FlaskClient) -> None:
    from core.audit import AuditEntry

    token = _admin(app, client)
    bad_zone = client.post(
        "/admin/sites", data={"code": "P2", "name": "Plant 2", "timezone": "Mars/Olympus", "csrf_token": token},
        follow_redirects=True,
    )  # fmt: skip
    assert "time zone &#39;Mars/Olympus&#39; is unknown" in bad_zone.get_data(as_text=True)
    client.post("/admin/sites", data={"code": "P2", "name": "Plant 2", "country": "de", "csrf_token": token})
    form = client.get("/admin/sites/p2").get_data(as_text=True)
    assert 'value="DE"' in form and "Europe/Berlin" in form  # the zone list is offered
    refused = client.post(
        "/admin/sites/P2",
        data={"name": "Plant two", "timezone": "Europe/Berlin", "country": "Germany", "csrf_token": token},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "two-letter ISO code" in page and 'value="Plant two"' in page  # what was typed stays in the form
    saved = client.post(
        "/admin/sites/P2",
        data={"name": "Plant two", "ship_to_address": "Gate 3", "timezone": "Europe/Berlin", "country": "de",
              "csrf_token": token},
    )  # fmt: skip
    assert saved.status_code == 302
    assert client.post("/admin/sites/P2", data={"name": "x", "timezone": "UTC"}).status_code == 400  # no CSRF
    assert client.get("/admin/sites/NOPE").status_code == 404
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        site = session.scalar(select(Site).where(Site.code == "P2"))
        assert site is not None
        assert (site.name, site.ship_to_address, site.timezone, site.country) == (
            "Plant two", "Gate 3", "Europe/Berlin", "DE",
        )  # fmt: skip
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "site.update"))
        assert (
            entry is not None and '"name": "Plant 2"' in entry.before_json and '"name": "Plant two"' in entry.after_json
        )
    login(client, "sam", "mas-password")
    assert client.get("/admin/sites/P2").status_code == 403


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
        "/login", data={"username": "sam", "password": "mas-password", "csrf_token": csrf_from(token_page)}
    )
    assert response.status_code == 403, "a deactivated user cannot log in"
    assert "This account is deactivated; ask an admin" in response.get_data(as_text=True)  # told after a right password
    wrong = other.post(
        "/login", data={"username": "sam", "password": "not-sams-password", "csrf_token": csrf_from(token_page)}
    )
    assert wrong.status_code == 401 and "deactivated" not in wrong.get_data(as_text=True)
    assert "user.update" in client.get("/admin/audit").get_data(as_text=True)
