"""Pairing a browser as a machine's kiosk: a DEVICE token in an HttpOnly cookie that opens that kiosk only.

Through the real Flask test client and the Kerong simulator; the last test drives headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, users
from core.access import access_of
from core.db import unit_of_work
from core.models import ApiToken
from core.roles import Role
from core.security import hash_token
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer, csrf_from, login
from tests.support import wait_until
from tests.vending.conftest import World, running_kiosk
from tests.web.test_role_matrix import _url_for_rule
from vending import ledger
from vending.models import KioskPairing, Machine

PASSWORDS = {"boss": "velvet-compass-9", "crib": "granite-bicycle-3", "nurse": "harbour-violet-5"}

API = "/api/v1/vending/kiosk"
COOKIE = "vendtrack_device"
NOT_PAIRED = "this kiosk is not paired: ask an administrator to pair it"


def _prepare(s: Session, world: World) -> None:
    s.add(Machine(code="L2", name="Locker 2", site_id=world.site_id, kind="locker_bank", driver_config="{}"))
    users.create_user(s, "boss", "velvet-compass-9", [Role.ADMIN])
    users.create_user(s, "nurse", "harbour-violet-5", [Role.STAFF])


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard, _prepare) as world:
        yield world


def _pair_form(client: FlaskClient, machine_id: int) -> str:
    return csrf_from(client.get(f"/vending/machines/{machine_id}").get_data(as_text=True))


def _pair(client: FlaskClient, machine_id: int, base_url: str = "http://localhost") -> Any:
    """Log in as the admin on this browser and pair it; returns the pairing response."""
    login(client, "boss", "velvet-compass-9")
    token = _pair_form(client, machine_id)
    return client.post(f"/vending/machines/{machine_id}/pair-kiosk", data={"csrf_token": token}, base_url=base_url)


def _paired(client: FlaskClient, world: World) -> str:
    response = _pair(client, world.machine_id)
    assert response.status_code == 302 and response.headers["Location"] == "/kiosk/L1", response.status_code
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _kiosk_headers(client: FlaskClient, machine: str = "L1") -> dict[str, str]:
    page = client.get(f"/kiosk/{machine}")
    assert page.status_code == 200, page.status_code
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert token
    return {"X-CSRF-Token": token.group(1)}


def _wait(client: FlaskClient, dispense_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{API}/L1/dispense/{dispense_id}").get_json()["dispense"]
        return body if body["status"] in ("completed", "failed") else None

    return wait_until(finished, what=f"dispense {dispense_id} to finish", every=0.02)


def _token_rows(app: Flask) -> list[ApiToken]:
    with app.extensions["vendtrack"].session_factory() as s:
        return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def test_pairing_issues_a_hashed_device_token_in_a_strict_cookie(
    app: Flask, client: FlaskClient, kiosk_world: World
) -> None:
    response = _pair(client, kiosk_world.machine_id)
    assert response.status_code == 302 and response.headers["Location"] == "/kiosk/L1"
    set_cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "secure" not in attributes  # plain http
    assert "SameSite=Strict" in set_cookie and "Max-Age=34560000" in set_cookie
    plain = set_cookie.split(";")[0].split("=", 1)[1]
    [row] = _token_rows(app)
    assert row.token_hash == hash_token(plain) and plain not in (row.token_hash, row.name)
    assert row.scope_set() == {"device"} and row.site_id == kiosk_world.site_id and row.revoked_at is None
    assert re.fullmatch(r"kiosk L1 paired by boss \d{4}-\d\d-\d\d", row.name), row.name
    with app.extensions["vendtrack"].session_factory() as s:
        pairing = s.get(KioskPairing, row.id)
        assert pairing is not None and pairing.machine_id == kiosk_world.machine_id and pairing.paired_by == "user:boss"
        entries = [(e.actor, e.action, e.after) for e in audit.recent(s) if e.action == "vending.kiosk.pair"]
    assert entries == [
        ("user:boss", "vending.kiosk.pair", {"machine": "L1", "token_id": row.id, "token_name": row.name})
    ]
    with client.session_transaction() as browser:
        assert "sid" not in browser  # the admin is logged out of the kiosk browser
    assert client.get("/admin/tokens").headers["Location"].startswith("/login")
    admin = app.test_client()
    login(admin, "boss", "velvet-compass-9")
    assert row.name in admin.get("/admin/tokens").get_data(as_text=True)  # listed (and revocable) like any token
    machine_page = admin.get(f"/vending/machines/{kiosk_world.machine_id}").get_data(as_text=True)
    assert f"#{row.id} {row.name}" in machine_page and "paired" in machine_page


def test_the_cookie_is_secure_over_https(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    response = _pair(client, kiosk_world.machine_id, base_url="https://localhost")
    assert response.status_code == 302
    set_cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie


def test_the_paired_browser_badges_in_and_dispenses(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    plain = _paired(client, kiosk_world)
    page = client.get("/kiosk/L1")
    assert page.status_code == 200 and "Pair this browser" not in page.get_data(as_text=True)
    assert any(h.startswith(f"{COOKIE}={plain};") for h in page.headers.getlist("Set-Cookie"))  # renewed on use
    headers = _kiosk_headers(client)
    signed = client.post(f"{API}/L1/badge", json={"badge": ";04A21B1C?"}, headers=headers)
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["worker"]["code"] == "W1"
    started = client.post(
        f"{API}/L1/dispense", json={"slot": "A1", "quantity": 1, "request_key": "tap-1"}, headers=headers
    ).get_json()["dispense"]
    assert started["status"] == "authorised", started
    done = _wait(client, started["id"])
    assert (done["status"], done["taken"]) == ("completed", 1), done
    assert client.get(f"{API}/L1/state").get_json()["worker"]["code"] == "W1"  # the worker stays signed in
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A1"]) == 4
    [row] = _token_rows(app)
    assert row.last_used_at is not None
    assert client.post(f"{API}/L1/logout", json={}, headers=headers).status_code == 200
    assert client.get(f"{API}/L1/state").get_json()["error"]["code"] == "no_worker"


def test_cookie_kiosk_posts_need_the_csrf_header(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    plain = _paired(client, kiosk_world)
    headers = _kiosk_headers(client)
    forged = client.post(f"{API}/L1/badge", json={"badge": "04A21B1C"})
    assert forged.status_code == 400 and "reload the page" in forged.get_json()["error"]["message"]
    wrong = client.post(f"{API}/L1/badge", json={"badge": "04A21B1C"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 400
    assert client.get(f"{API}/L1/state").get_json()["error"]["code"] == "no_worker"  # nobody was signed in
    assert client.post(f"{API}/L1/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    device = app.test_client()  # the same token as a bearer header carries no ambient authority: no CSRF needed
    bearer = {"Authorization": f"Bearer {plain}"}
    assert device.post(f"{API}/L1/badge", json={"badge": "04A22B1C"}, headers=bearer).status_code == 200


def test_the_cookie_opens_its_own_kiosk_only(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    plain = _paired(client, kiosk_world)
    other = client.get("/kiosk/L2")
    assert other.status_code == 403 and "paired with machine L1: it cannot open L2" in other.get_data(as_text=True)
    headers = _kiosk_headers(client)
    api = client.post(f"{API}/L2/badge", json={"badge": "04A21B1C"}, headers=headers)
    assert api.status_code == 403 and api.get_json()["error"]["message"].startswith("this kiosk is paired with")
    bearer = app.test_client().get(f"{API}/L2/poll", headers={"Authorization": f"Bearer {plain}"})
    assert bearer.status_code == 403  # the binding is the token's, not the cookie's
    assert client.get("/admin/tokens").headers["Location"].startswith("/login")
    assert client.get("/vending/").headers["Location"].startswith("/login")
    # every other route, as the paired browser (no user session): refused before the view runs
    app.config["CSRF_DISABLED"] = True  # only the access decision matters here
    opened = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = access_of(view)
        if rule.endpoint.startswith("vending_kiosk") or declared is None or declared.public:
            continue
        url = _url_for_rule(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            denied = response.status_code in (401, 403) or "/login" in response.headers.get("Location", "")
            if not denied:
                opened.append(f"{method} {url}: {response.status_code}")
    assert not opened, opened


def test_a_revoked_token_unpairs_the_browser(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    _paired(client, kiosk_world)
    headers = _kiosk_headers(client)
    [row] = _token_rows(app)
    admin = app.test_client()
    login(admin, "boss", "velvet-compass-9")
    token = csrf_from(admin.get("/admin/tokens").get_data(as_text=True))
    assert admin.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 302
    page = client.get("/kiosk/L1")
    assert page.status_code == 401 and NOT_PAIRED in page.get_data(as_text=True)
    api = client.post(f"{API}/L1/badge", json={"badge": "04A21B1C"}, headers=headers)
    assert api.status_code == 401
    assert api.get_json()["error"] == {"code": "kiosk_not_paired", "message": NOT_PAIRED, "field": None}
    assert client.get(f"{API}/L1/poll").status_code == 401


def test_only_an_admin_can_pair(app: Flask, kiosk_world: World) -> None:
    url = f"/vending/machines/{kiosk_world.machine_id}/pair-kiosk"
    for username in ("crib", "nurse"):
        browser = app.test_client()
        login(browser, username, PASSWORDS[username])
        token = csrf_from(browser.get("/login").get_data(as_text=True))
        assert browser.post(url, data={"csrf_token": token}).status_code == 403, username
        assert browser.get_cookie(COOKIE) is None
    restocker = app.test_client()
    login(restocker, "crib", "granite-bicycle-3")
    assert "Pair this browser" not in restocker.get("/kiosk/L1").get_data(as_text=True)
    assert "Pair this browser" not in restocker.get(f"/vending/machines/{kiosk_world.machine_id}").get_data(
        as_text=True
    )
    anonymous = app.test_client()
    assert anonymous.post(url, data={}).headers["Location"].startswith("/login")
    assert _token_rows(app) == []


def test_the_pairing_form_needs_csrf(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "boss", "velvet-compass-9")
    url = f"/vending/machines/{kiosk_world.machine_id}/pair-kiosk"
    assert client.post(url, data={}).status_code == 400
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert client.get_cookie(COOKIE) is None and _token_rows(app) == []
    assert client.get("/admin/tokens").status_code == 200  # still logged in: nothing happened


def test_an_admin_pairs_from_the_kiosk_page_and_re_pairing_retires_the_old_token(
    app: Flask, client: FlaskClient, kiosk_world: World
) -> None:
    first = _paired(client, kiosk_world)
    login(client, "boss", "velvet-compass-9")  # a logged-in user comes before the cookie
    page = client.get("/kiosk/L1").get_data(as_text=True)
    assert "Pair this browser as the kiosk of L1" in page
    response = client.post(
        f"/vending/machines/{kiosk_world.machine_id}/pair-kiosk", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.value != first
    old, new = _token_rows(app)
    assert old.revoked_at is not None and new.revoked_at is None  # no live token is left without a holder
    assert new.token_hash == hash_token(cookie.value)
    assert client.get("/kiosk/L1").status_code == 200
    assert app.test_client().get(f"{API}/L1/poll", headers={"Authorization": f"Bearer {first}"}).status_code == 401


def test_an_inactive_machine_cannot_be_paired(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        machine = s.get(Machine, kiosk_world.machine_id)
        assert machine is not None
        machine.active = False
    response = _pair(client, kiosk_world.machine_id)
    assert response.status_code == 422 and "switched off" in response.get_data(as_text=True)
    assert _token_rows(app) == []


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Chromium is the slow part
def test_browser_pairs_then_the_cookie_alone_opens_the_kiosk(
    app: Flask, kiosk_world: World, live_server: LiveServer, browser: Any
) -> None:
    admin = browser.new_context(viewport={"width": 1280, "height": 800})
    page = admin.new_page()
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "velvet-compass-9")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/kiosk/L1")
    page.click("#pair")
    page.wait_for_url(f"{live_server.url}/kiosk/L1")
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.locator("#pair").count() == 0  # no longer an admin here
    [device] = [c for c in admin.cookies() if c["name"] == COOKIE]
    assert device["httpOnly"] and device["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find(COOKIE) == -1  # scripts cannot read it
    admin.close()

    kiosk = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        kiosk.add_cookies([device])  # nothing but the pairing cookie: no session, no login
        screen = kiosk.new_page()
        screen.goto(f"{live_server.url}/kiosk/L1")
        screen.wait_for_selector("#screen-signin:not([hidden])")
        screen.keyboard.type("04A21B1C")  # a keyboard-wedge reader
        screen.keyboard.press("Enter")
        screen.wait_for_selector("#screen-items:not([hidden])")
        assert screen.inner_text("#who") == "Worker W1"
        assert "5 left" in screen.inner_text("[data-slot=A1]")
        screen.click("#logout")
        screen.wait_for_selector("#screen-signin:not([hidden])")
        with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
            token_id = s.scalar(select(KioskPairing.token_id))
            assert token_id is not None
            users.revoke_token(s, token_id, actor="user:boss")
        # the badge-reader poll gets 'not paired' and the kiosk reloads into the explanation
        screen.wait_for_selector("text=" + NOT_PAIRED, timeout=8000)
        admin_page = kiosk.new_page()
        admin_page.goto(f"{live_server.url}/admin/tokens")
        assert "/login" in admin_page.url
    finally:
        kiosk.close()
