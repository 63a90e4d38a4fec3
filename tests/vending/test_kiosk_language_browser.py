"""The kiosk's language in headless Chromium: an English kiosk, a German worker badges in and the screen turns
German (reloaded, still signed in), a refusal in German, then English again after sign-out and after time-out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer
from tests.vending.conftest import World, browser_sqlite_url, running_kiosk
from vending.models import Machine, Rule, Worker

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.fixture(params=["sqlite"])
def database_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only (tests/vending/test_kiosk_common.py covers both databases)."""
    return browser_sqlite_url(tmp_path)


def _prepare(s: Session, world: World) -> None:
    s.get_one(Machine, world.machine_id).language = "en"
    s.get_one(Worker, world.workers["W1"]).language = "de"
    s.add(Rule(name="Ear plugs per shift", quantity=0, window="shift", item_id=world.items["EAR-1"]))


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard, _prepare) as world:
        yield world


def _open_kiosk(page: Any, live_server: LiveServer, query: str = "") -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "crib")
    page.fill("input[name=password]", "granite-bicycle-3")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/kiosk/L1{query}")
    page.wait_for_selector("#screen-signin:not([hidden])")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_german_worker_at_an_english_kiosk(kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    _open_kiosk(page, live_server)
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("#signin-heading") == "Badge in"
    page.keyboard.type("04A21B1C")
    page.keyboard.press("Enter")
    page.wait_for_selector("html[lang=de] #screen-items:not([hidden])")  # reloaded in German, still signed in
    assert page.inner_text("#who") == "Worker W1"
    assert page.inner_text("#items-heading") == "Artikel wählen" and page.inner_text("#logout") == "Abmelden"
    page.click("[data-slot=A3]")
    page.click("#take")
    page.wait_for_selector("#message:not([hidden])")
    said = page.inner_text("#message")
    assert said.startswith("Ear plugs per shift: Grenze von 0 pro Schicht erreicht"), said
    _shot(page, "kiosk-de-refusal-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "kiosk-de-refusal-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the German screen scrolls sideways"
    page.click("#logout")
    page.wait_for_selector("html[lang=en] #screen-signin:not([hidden])")
    assert page.inner_text("#signin-heading") == "Badge in" and page.inner_text("#message") == "Signed out."
    assert page.inner_text("#who") == ""
    _shot(page, "kiosk-en-after-sign-out-390")


def test_time_out_returns_to_english(kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    _open_kiosk(page, live_server, "?idle=3")
    page.keyboard.type("04A21B1C")
    page.keyboard.press("Enter")
    page.wait_for_selector("html[lang=de] #screen-items:not([hidden])")
    page.wait_for_selector("html[lang=en] #screen-signin:not([hidden])", timeout=20000)
    assert page.inner_text("#message") == "Signed out after inactivity."
