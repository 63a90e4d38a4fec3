"""Attacks on web sessions: a cookie copied before logout, a password change or a deactivation is refused after."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import unit_of_work
from core.models import User, UserSession
from core.roles import Role
from core.users import create_user
from tests.conftest import csrf_from, login

ROOT_PASSWORD = "copper-kettle-41"
SAM_PASSWORD = "mas-password"


def _users(app: Flask) -> dict[str, int]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "root", ROOT_PASSWORD, [Role.ADMIN])
        create_user(session, "sam", SAM_PASSWORD, [Role.STAFF])
        return {u.username: u.id for u in session.scalars(select(User))}


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second browser holding a copy of the first one's session cookie (as stolen from a shared PC)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _opens(client: FlaskClient, path: str = "/admin/users") -> bool:
    return client.get(path).status_code == 200


def test_a_cookie_copied_before_logout_is_refused_after_it(app: Flask, client: FlaskClient) -> None:
    _users(app)
    login(client, "root", ROOT_PASSWORD)
    thief = _copy(app, client)
    assert _opens(thief), "the copy works while the session lives"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/admin/users").get_data(as_text=True))})
    assert not _opens(client)
    refused = thief.get("/admin/users")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    with app.extensions["vendtrack"].session_factory() as s:
        assert [r.ended_reason for r in s.scalars(select(UserSession))] == ["logout"]


def test_a_password_change_ends_every_other_session(app: Flask, client: FlaskClient) -> None:
    _users(app)
    login(client, "sam", SAM_PASSWORD)
    elsewhere = app.test_client()
    login(elsewhere, "sam", SAM_PASSWORD)
    thief = _copy(app, client)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    wrong = client.post(
        "/account/password",
        data={"current": "not-it-at-all", "new": "tall-ships-sail", "confirm": "tall-ships-sail", "csrf_token": token},
    )
    assert wrong.status_code == 422 and "current password is wrong" in wrong.get_data(as_text=True)
    weak = client.post(
        "/account/password",
        data={"current": SAM_PASSWORD, "new": "password1234", "confirm": "password1234", "csrf_token": token},
    )
    assert weak.status_code == 422 and "most common passwords" in weak.get_data(as_text=True)
    assert _opens(thief, "/"), "a refused change ends nothing"
    changed = client.post(
        "/account/password",
        data={"current": SAM_PASSWORD, "new": "tall-ships-sail", "confirm": "tall-ships-sail", "csrf_token": token},
    )
    assert changed.status_code == 302
    assert _opens(client, "/"), "the browser that changed it stays signed in (with a new session)"
    assert thief.get("/").status_code == 302, "the copied cookie is refused"
    assert elsewhere.get("/").status_code == 302, "the other browser is signed out"
    login(elsewhere, "sam", "tall-ships-sail")
    with app.extensions["vendtrack"].session_factory() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "user.password_change" in actions


def test_an_admin_password_reset_ends_the_users_sessions(app: Flask, client: FlaskClient) -> None:
    ids = _users(app)
    sam = app.test_client()
    login(sam, "sam", SAM_PASSWORD)
    thief = _copy(app, sam)
    login(client, "root", ROOT_PASSWORD)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    same = client.post(f"/admin/users/{ids['sam']}/password", data={"password": "sam-sam-sam-sam", "csrf_token": token})
    assert same.status_code == 422 and "most common passwords" in same.get_data(as_text=True)
    assert _opens(sam, "/")
    reset = client.post(
        f"/admin/users/{ids['sam']}/password", data={"password": "blue-river-stone", "csrf_token": token}
    )
    assert reset.status_code == 302
    assert sam.get("/").status_code == 302 and thief.get("/").status_code == 302
    login(sam, "sam", "blue-river-stone")


def test_deactivation_ends_every_session_at_once(app: Flask, client: FlaskClient) -> None:
    ids = _users(app)
    sam = app.test_client()
    login(sam, "sam", SAM_PASSWORD)
    thief = _copy(app, sam)
    login(client, "root", ROOT_PASSWORD)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    client.post(f"/admin/users/{ids['sam']}", data={"roles": ["staff"], "csrf_token": token})  # "active" unticked
    assert sam.get("/").status_code == 302 and thief.get("/").status_code == 302
    with app.extensions["vendtrack"].session_factory() as s:
        reasons = [r.ended_reason for r in s.scalars(select(UserSession).where(UserSession.user_id == ids["sam"]))]
    assert reasons == ["deactivated"]
    client.post(f"/admin/users/{ids['sam']}", data={"roles": ["staff"], "active": "on", "csrf_token": token})
    assert thief.get("/").status_code == 302, "reactivating does not bring an ended session back"


def test_an_old_client_side_session_cookie_is_not_a_login(app: Flask, client: FlaskClient) -> None:
    """Cookies of the former client-side sessions ({"user_id": 1}, signed with the same key) open nothing."""
    ids = _users(app)
    with client.session_transaction() as browser:
        browser["user_id"] = ids["root"]
    assert client.get("/admin/users").status_code == 302
    with client.session_transaction() as browser:
        browser["sid"] = "guessed-session-id"
    assert client.get("/admin/users").status_code == 302


def test_a_new_login_in_the_same_browser_ends_the_session_it_replaces(app: Flask, client: FlaskClient) -> None:
    _users(app)
    login(client, "root", ROOT_PASSWORD)
    thief = _copy(app, client)
    login(client, "sam", SAM_PASSWORD)  # someone else signs in at the same PC without logging out first
    assert thief.get("/admin/users").status_code == 302, "root's old cookie no longer opens root's pages"
    assert _opens(client, "/")
    with app.extensions["vendtrack"].session_factory() as s:
        reasons = sorted(r.ended_reason for r in s.scalars(select(UserSession)))
    assert reasons == ["", "replaced"]
