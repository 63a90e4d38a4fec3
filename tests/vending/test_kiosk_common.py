"""The kiosk's language (vending.kiosk_common.kiosk_language): the machine's, the signed-in worker's own while
their sign-in lasts, the machine's again after sign-out or time-out; the same answer from a second web process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import login
from tests.support import wait_until
from tests.vending.conftest import World, running_kiosk
from vending.models import Dispense, Machine, Worker

API = "/api/v1/vending/kiosk/L1"


def _prepare(s: Session, world: World) -> None:
    s.get_one(Machine, world.machine_id).language = "en"
    s.get_one(Worker, world.workers["W1"]).language = "de"


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard, _prepare) as world:
        yield world


def _page(client: FlaskClient) -> tuple[str, str]:
    """The kiosk page's language and its HTML."""
    page = client.get("/kiosk/L1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    found = re.search(r'<html lang="(\w+)"', html)
    assert found, "the page names no language"
    return found.group(1), html


def _headers(html: str) -> dict[str, str]:
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token
    return {"X-CSRF-Token": token.group(1)}


def test_a_german_worker_at_an_english_kiosk(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    client.set_cookie("vendtrack_lang", "es")  # the browser's own choice loses to the machine's language
    language, html = _page(client)
    assert language == "en" and "Choose an item" in html and 'data-signed-in=""' in html
    headers = _headers(html)
    signed = client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers)
    assert signed.status_code == 200 and signed.get_json()["language"] == "de"
    language, html = _page(client)
    assert language == "de" and "Artikel wählen" in html and 'data-worker-lang="de"' in html
    assert 'data-signed-in="yes"' in html
    too_many = client.post(f"{API}/dispense", json={"slot": "A1", "quantity": 9}, headers=headers)
    assert too_many.get_json()["dispense"]["detail"] == "Menge muss zwischen 1 und 5 liegen"
    with app.extensions["vendtrack"].session_factory() as s:  # the record keeps English
        assert s.scalar(select(Dispense.detail)) == "quantity must be between 1 and 5"
    nobody = client.post(f"{API}/dispense", json={"slot": "Z9"}, headers=headers)
    assert nobody.get_json()["error"]["message"] == "Fach 'Z9' ist in L1 nicht bestückt: Artikel aus dem Raster wählen"
    assert client.post(f"{API}/logout", json={}, headers=headers).status_code == 200
    language, html = _page(client)
    assert language == "en" and "Choose an item" in html and 'data-worker-lang=""' in html


def test_a_worker_without_a_language_keeps_the_kiosks(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        s.get_one(Machine, kiosk_world.machine_id).language = "es"
    login(client, "crib", "granite-bicycle-3")
    language, html = _page(client)
    assert language == "es" and "Elija un artículo" in html
    headers = _headers(html)
    unknown = client.post(f"{API}/badge", json={"badge": "CAFEBABE"}, headers=headers).get_json()["error"]
    assert unknown["message"].startswith("la credencial MF:CAFEBABE no está registrada")
    signed = client.post(f"{API}/badge", json={"badge": "04A22B1C"}, headers=headers).get_json()
    assert signed["worker"]["code"] == "W2" and signed["language"] == ""
    assert _page(client)[0] == "es"


def test_time_out_returns_to_the_kiosks_language(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    headers = _headers(_page(client)[1])
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    assert _page(client)[0] == "de"
    app.config["VENDING_KIOSK_IDLE_SECONDS"] = 0
    idle = wait_until(lambda: client.get(f"{API}/state").get_json().get("error"), what="the sign-out after 0 s idle")
    assert idle["message"] == "signed out after inactivity: badge in again"  # in the kiosk's English again
    assert _page(client)[0] == "en"


def test_a_second_web_process_answers_in_the_same_language(
    app: Flask, client: FlaskClient, kiosk_world: World, database_url: str, tmp_path: Path
) -> None:
    """A second app on the same database and instance folder (another serving process): the sign-in made through
    the first shows in German there, and the sign-out made there shows in English through the first."""
    from web.app import create_app

    other = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    login(client, "crib", "granite-bicycle-3")
    headers = _headers(_page(client)[1])
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    second = other.test_client()
    first_cookie = client.get_cookie("session")  # the kiosk browser's signed session: login and worker sign-in
    assert first_cookie is not None
    second.set_cookie("session", first_cookie.value)
    language, html = _page(second)
    assert language == "de", "the second process does not see the worker's sign-in"
    assert second.post(f"{API}/logout", json={}, headers=_headers(html)).status_code == 200
    second_cookie = second.get_cookie("session")
    assert second_cookie is not None
    client.set_cookie("session", second_cookie.value)
    assert _page(client)[0] == "en"


def test_the_status_follows_the_language_and_every_write(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    """The status's first read (kiosk_context) and its labels (translated once per language in the process): German
    for the German worker, English once their language is cleared, and a charge-code mode changed elsewhere shows
    at the next call."""
    from vending import charges

    login(client, "crib", "granite-bicycle-3")
    headers = _headers(_page(client)[1])
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    german = client.get(f"{API}/state").get_json()
    assert german["charge_labels"] == {"job": "Auftragsnummer", "work_order": "Arbeitsauftrag",
                                       "cost_center": "Kostenstelle"}  # fmt: skip
    assert german["worker"]["code"] == "W1" and german["language"] == "de" and german["charge_modes"]["job"] == "off"
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        s.get_one(Worker, kiosk_world.workers["W1"]).language = ""
        charges.set_mode(s, kiosk_world.site_id, "job", "required")
    english = client.get(f"{API}/state").get_json()
    assert english["charge_labels"] == {"job": "job number", "work_order": "work order", "cost_center": "cost center"}
    assert english["language"] == "" and english["charge_modes"] == {
        "job": "required", "work_order": "off", "cost_center": "off"}  # fmt: skip
    assert english["items"] == german["items"] and english["items"][0]["slot"] == "A1"


def test_the_status_refuses_as_before(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    """The refusals the first read decides: a paired token opens its own machine's status only (403), a machine
    switched off has none (404, also for a worker signed in before), and nobody signed in is a 409."""
    from vending.pairing import pair

    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        paired = pair(s, kiosk_world.machine_id, "crib", "user:crib", app.extensions["vendtrack"].clock)
    bearer = {"Authorization": f"Bearer {paired.token}"}
    other = app.test_client().get("/api/v1/vending/kiosk/L2/state", headers=bearer)
    assert (
        other.status_code == 403 and "paired with machine L1: it cannot open L2" in other.get_json()["error"]["message"]
    )
    device = app.test_client()
    assert device.get(f"{API}/state", headers=bearer).get_json()["error"]["code"] == "no_worker"
    assert device.post(f"{API}/badge", json={"badge": "04A22B1C"}, headers=bearer).status_code == 200
    assert device.get(f"{API}/state", headers=bearer).get_json()["worker"]["code"] == "W2"
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        s.get_one(Machine, kiosk_world.machine_id).active = False
    off = device.get(f"{API}/state", headers=bearer)
    assert off.status_code == 404 and off.get_json()["error"]["message"].startswith("no active machine 'L1'")
