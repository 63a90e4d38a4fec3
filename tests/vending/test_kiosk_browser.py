"""The kiosk in headless Chromium against the Kerong simulator: badge, choose, door opens, ledger, sign-out; a jam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer
from tests.vending.conftest import World, kerong_config, seed_world
from vending import ledger
from vending.models import LedgerEntry, Slot
from vending.runtime import runtime

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Browser tests run on SQLite only: the flows are the same and Chromium is the slow part."""
    from core.db import make_engine
    from migrations.models import load_all_models

    url = f"sqlite:///{tmp_path / 'browser.db'}"
    engine = make_engine(url)
    load_all_models().create_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    services = app.extensions["vendtrack"]
    world = seed_world(services.session_factory, kerong_config(lockboard.url))
    with unit_of_work(services.session_factory) as s:
        create_user(s, "crib", "crib-password", [Role.RESTOCKER])
    yield world
    runtime(services).runner.shutdown()
    runtime(services).pool.close_all()


def _open_kiosk(page: Any, live_server: LiveServer, query: str = "") -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "crib")
    page.fill("input[name=password]", "crib-password")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/kiosk/L1{query}")
    page.wait_for_selector("#screen-signin:not([hidden])")


def _badge_in(page: Any, badge: str = "04A21B1C") -> None:
    page.keyboard.type(badge)  # a keyboard-wedge reader: no click into the field first
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    for other in ("#screen-signin", "#screen-confirm", "#screen-progress", "#screen-result"):
        assert page.is_hidden(other), f"{other} shows through the item grid"


def test_badge_choose_door_opens_ledger_logout(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any, lockboard: LockBoardSim
) -> None:
    _open_kiosk(page, live_server)
    _badge_in(page)
    assert page.inner_text("#who") == "Worker W1"
    page.click("[data-slot=A1]")
    page.click("#take")
    page.wait_for_selector("#screen-result:not([hidden])", timeout=15000)
    assert page.inner_text("#result-text") == "Done: 1 × Gloves"
    assert lockboard.unlock_count(0, 0) == 1
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A1"]) == 4
        assert s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "issue")) == 1
    page.click("#result-ok")
    page.wait_for_selector("#screen-items:not([hidden])")
    assert "4 left" in page.inner_text("[data-slot=A1]")
    page.click("#logout")
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.inner_text("#who") == ""


def test_jam_charges_nobody(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any, lockboard: LockBoardSim
) -> None:
    lockboard.set_stuck(0, 1)  # the lock of A2 never releases: the door cannot open
    _open_kiosk(page, live_server)
    _badge_in(page)
    page.click("[data-slot=A2]")
    page.click("#take")
    page.wait_for_selector("#screen-result:not([hidden])", timeout=15000)
    assert page.inner_text("#result-text") == "Not charged"
    assert "door did not open" in page.inner_text("#result-detail")
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A2"]) == 5
        assert s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "issue")) == 0
        slot = s.get(Slot, kiosk_world.slots["A2"])
        assert slot is not None and slot.state == "jammed"
    page.click("#result-ok")
    page.wait_for_selector("#screen-items:not([hidden])")
    assert page.is_disabled("[data-slot=A2]")


def test_refusal_pin_pad_sizes_and_idle_logout(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any
) -> None:
    from vending.models import Rule

    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        s.add(Rule(name="Gloves per shift", quantity=0, window="shift", item_id=kiosk_world.items["GLV-1"]))
    _open_kiosk(page, live_server, "?idle=2")
    page.click("#show-pin")
    page.fill("#worker-code", "W2")
    for digit in "1234":
        page.click(f"[data-key='{digit}']")
    page.click("[data-key=OK]")
    page.wait_for_selector("#screen-items:not([hidden])")
    page.click("[data-slot=A1]")
    page.click("#take")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message").startswith("Gloves per shift: limit 0 per shift reached")
    for width, height in ((800, 480), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("[data-slot=A3]").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width and box["height"] >= 60
    page.wait_for_selector("#screen-signin:not([hidden])", timeout=8000)  # idle for 2 s: signed out
    assert "inactivity" in page.inner_text("#message")
