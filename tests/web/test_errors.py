"""web.errors: a bad field of a form gives the form again (422, marked, typed values kept); JSON gets one error
shape naming the field; anything unexpected shows an error id and never the database's text."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from core import access
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import csrf_from, login
from web.form_marks import mark_form


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> str:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "root", "toor-password", [Role.ADMIN])
    login(client, "root", "toor-password")
    return csrf_from(client.get("/admin/sites").get_data(as_text=True))


def test_a_bad_field_shows_the_form_again_marked_with_what_was_typed(client: FlaskClient, admin: str) -> None:
    response = client.post(
        "/admin/sites",
        data={"code": "P9", "name": "Plant \x00 nine", "ship_to_address": "Dock 1\nGate 2", "csrf_token": admin},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="P9"' in page and "Dock 1\nGate 2</textarea>" in page  # typed values kept
    assert 'name="name"' in page and 'aria-invalid="true" aria-describedby="field-error-name"' in page
    assert "name contains a NUL character" in page and "Not saved: fix the marked field" in page
    assert "\x00" not in page


def test_a_too_long_value_is_a_field_error_on_postgresql_and_sqlite(client: FlaskClient, admin: str) -> None:
    response = client.post("/admin/cost-centers", data={"code": "C" * 100_000, "name": "x", "csrf_token": admin},
                           headers={"Referer": "http://localhost/admin/sites"})  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "code is 100000 characters long: shorten it to 32 at most" in page
    assert "psycopg" not in page and "SQL" not in page


def test_json_errors_have_one_shape_naming_the_field(client: FlaskClient, admin: str) -> None:
    response = client.post(
        "/api/v1/vending/kiosk/NOPE/dispense", data='{"quantity": NaN}', content_type="application/json",
        headers={"X-CSRF-Token": admin},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.get_json() == {
        "error": {
            "code": "invalid",
            "field": "quantity",
            "message": "quantity must be a finite number (not NaN, Infinity or 1e400)",
        }
    }
    deep = client.post("/api/v1/vending/kiosk/NOPE/dispense", data="[" * 3000 + "]" * 3000,
                       content_type="application/json", headers={"X-CSRF-Token": admin})  # fmt: skip
    assert deep.status_code == 422 and deep.get_json()["error"]["field"] == "body"


@pytest.fixture
def broken_routes(app: Flask) -> Flask:
    @access.roles(Role.ADMIN)
    def broken() -> str:
        raise OperationalError("SELECT secret FROM app_user WHERE x = %(x)s", {"x": "hunter2"}, Exception("boom"))

    app.add_url_rule("/admin/broken", "broken", broken)
    app.add_url_rule("/api/v1/broken", "broken_api", broken)
    return app


def test_an_unexpected_database_error_shows_only_an_error_id(
    broken_routes: Flask, client: FlaskClient, admin: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        page = client.get("/admin/broken")
        api = client.get("/api/v1/broken")
    for response in (page, api):
        body = response.get_data(as_text=True)
        error_id = response.headers["X-Error-Id"]
        assert response.status_code == 500 and error_id in body
        assert "secret" not in body and "hunter2" not in body and "SELECT" not in body
        assert f"error id {error_id}" in caplog.text
    assert api.get_json()["error"]["code"] == "internal_error"


def test_mark_form_picks_the_posted_form_and_never_echoes_passwords() -> None:
    html = (
        '<form method="post" action="/a"><input name="q"></form>'
        '<form method="post" action="/users"><input name="username"><input type="password" name="password">'
        '<select name="role"><option>staff</option><option selected>admin</option></select>'
        '<input type="checkbox" name="active" value="on" checked></form>'
    )
    from werkzeug.datastructures import MultiDict

    typed = MultiDict([("username", 'bob"><script>'), ("password", "s3cret"), ("role", "staff")])
    marked = mark_form(html, page_url="http://h/users", posted_path="/users", values=typed,
                       errors={"username": "username is taken"})  # fmt: skip
    assert marked is not None
    assert 'value="bob&#34;&gt;&lt;script&gt;"' in marked and "s3cret" not in marked
    assert "<option selected>staff</option><option>admin</option>" in marked
    assert 'name="active" value="on">' in marked  # not posted: unchecked
    assert marked.index("username is taken") > marked.index('action="/users"')


def test_the_error_page_reads_in_the_readers_language_and_the_api_keeps_english(
    client: FlaskClient, admin: str
) -> None:
    client.set_cookie("vendtrack_lang", "de")
    missing = client.get("/no/such/page")
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404
    assert "<h1>Nicht gefunden</h1>" in page and "Diese Seite oder dieser Datensatz existiert nicht." in page
    assert "Not found" not in page and "does not exist" not in page
    expired = client.post("/admin/sites", data={"code": "P7", "name": "Plant 7", "csrf_token": "stale"})
    text = expired.get_data(as_text=True)
    assert expired.status_code == 400 and "Das Formular ist abgelaufen" in text and "has expired" not in text
    client.set_cookie("vendtrack_lang", "es")
    assert "<h1>No encontrado</h1>" in client.get("/no/such/page").get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_revoking_a_token_that_does_not_exist_says_so_on_the_tokens_page(client: FlaskClient, admin: str) -> None:
    response = client.post("/admin/tokens/4242/revoke", data={"csrf_token": admin})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "no token with id 4242: pick one from the list below" in page and "<h1>API tokens</h1>" in page
    assert "vendtrack token list" not in page  # a command-line hint does not help on a web page


def test_an_id_in_the_path_beyond_what_a_column_holds_is_named_not_a_500(client: FlaskClient, admin: str) -> None:
    for number in (str(2**31), str(2**63), "9" * 25):
        response = client.post(f"/admin/tokens/{number}/revoke", data={"csrf_token": admin})
        assert response.status_code == 404, response.get_data(as_text=True)[:300]  # beyond every id: no such record
        assert f"no record has token_id {number[:30]}: ids go up to 2147483647" in response.get_data(as_text=True)
