"""Login, logout, CSRF, bearer tokens and the JSON error shape."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.roles import Role, TokenScope
from core.users import create_token, create_user, revoke_token
from tests.conftest import csrf_from, login


def _user(app: Flask, username: str, role: Role) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, username, f"{username[::-1]}-password", [role])


def test_anonymous_page_redirects_to_login(client: FlaskClient) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login?next=/admin/users" in response.headers["Location"]


def test_login_wrong_password_then_right(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    bad = client.post("/login", data={"username": "ann", "password": "nope-nope", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong username or password" in bad.get_data(as_text=True)
    login(client, "ann", "nna-password")
    assert client.get("/admin/users").status_code == 200


def test_login_refuses_offsite_next(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "ann", "password": "nna-password", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_post_without_csrf_is_refused(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    login(client, "ann", "nna-password")
    response = client.post("/admin/users", data={"username": "x", "password": "long-enough", "roles": "staff"})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)


def test_logout_needs_csrf_and_ends_session(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    login(client, "ann", "nna-password")
    page = client.get("/admin/users").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert client.get("/admin/users").status_code == 302


def test_admin_creates_user_through_form(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    login(client, "ann", "nna-password")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    response = client.post(
        "/admin/users", data={"username": "bob", "password": "short", "roles": ["staff"], "csrf_token": token}
    )
    assert response.status_code == 400 and "use at least 12" in response.get_data(as_text=True)
    response = client.post(
        "/admin/users",
        data={"username": "bob", "password": "long-enough-now", "roles": ["staff"], "csrf_token": token},
    )
    assert response.status_code == 302
    audit_page = client.get("/admin/audit").get_data(as_text=True)
    assert "user.create" in audit_page and "user:ann" in audit_page


def test_bearer_tokens_scoped_and_revocable(app: Flask, client: FlaskClient) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        plain, view = create_token(session, "gw-1", [TokenScope.GATEWAY])
    headers = {"Authorization": f"Bearer {plain}"}
    body = client.get("/api/v1/whoami", headers=headers).get_json()
    assert body == {"kind": "token", "name": "gw-1", "roles": [], "scopes": ["gateway"]}
    assert client.get("/admin/users", headers=headers).status_code == 403, "tokens never open user pages"
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        revoke_token(session, view.id, actor="test")
    response = client.get("/api/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": {"code": "unauthorized", "message": response.get_json()["error"]["message"], "field": None}
    }


def test_bad_token_gets_json_error_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/whoami", headers={"Authorization": "Bearer vt_nonsense"})
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "field"} and error["code"] == "unauthorized"


def test_unknown_api_route_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_unknown_page_is_friendly_html(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "does not exist" in response.get_data(as_text=True)


def test_healthz_reports_database_outbox_and_workers(client: FlaskClient) -> None:
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok"
    assert body["outbox"] == {"backlog": 0, "dead_letters": 0}
    assert body["workers"] == {}


def test_token_last_used_is_kept_to_the_minute_without_a_write_per_call(session_factory: sessionmaker[Session]) -> None:
    from core.clock import ManualClock
    from core.models import ApiToken
    from core.users import verify_token

    def last_used() -> datetime | None:
        with session_factory() as session:
            row = session.get(ApiToken, view.id)
            assert row is not None
            return row.last_used_at

    clock = ManualClock()
    with unit_of_work(session_factory) as session:
        plain, view = create_token(session, "kiosk", [TokenScope.DEVICE])
    first = clock.now()
    with unit_of_work(session_factory) as session:
        found = verify_token(session, plain, clock)
        assert found is not None and found.last_used_at == first
    assert last_used() == first, "the first use is recorded"
    clock.advance(seconds=30)
    with unit_of_work(session_factory) as session:
        assert verify_token(session, plain, clock) is not None
    assert last_used() == first, "a call within the minute writes nothing"
    clock.advance(seconds=31)
    with unit_of_work(session_factory) as session:
        assert verify_token(session, plain, clock) is not None
    assert last_used() == clock.now()


def test_api_calls_record_a_tokens_last_use_once_a_minute(database_url: str, tmp_path: Path) -> None:
    from core.clock import ManualClock
    from core.models import ApiToken
    from web.app import create_app

    clock = ManualClock()
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "CLOCK": clock})
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        plain, view = create_token(session, "gw-1", [TokenScope.GATEWAY])

    def call_and_read_last_use() -> datetime | None:
        assert app.test_client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
        with factory() as session:
            row = session.get(ApiToken, view.id)
            assert row is not None
            return row.last_used_at

    first = clock.now()
    assert call_and_read_last_use() == first
    clock.advance(seconds=59)
    assert call_and_read_last_use() == first, "a call within the minute writes nothing"
    clock.advance(seconds=1)
    assert call_and_read_last_use() == clock.now()


def test_flashes_and_password_refusals_in_german(app: Flask, client: FlaskClient) -> None:
    _user(app, "ann", Role.ADMIN)
    client.set_cookie("vendtrack_lang", "de")
    login(client, "ann", "nna-password")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    short = client.post("/admin/users", data={"username": "bob", "password": "short", "roles": ["staff"],
                                              "csrf_token": token})  # fmt: skip
    assert short.status_code == 400
    assert "das Passwort ist zu kurz (5 Zeichen): verwenden Sie mindestens 12" in short.get_data(as_text=True)
    created = client.post("/admin/users", data={"username": "bob", "password": "long-enough-now", "roles": ["staff"],
                                                "csrf_token": token}, follow_redirects=True)  # fmt: skip
    assert "Benutzer bob angelegt." in created.get_data(as_text=True)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "Sie sind abgemeldet." in out.get_data(as_text=True)
