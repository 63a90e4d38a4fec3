"""The kiosk in headless Chromium against the Kerong simulator: badge, choose, door opens, ledger, sign-out; a jam;
PIN pad, refusal and idle sign-out; several items with a required job number; a tool out and back damaged; a request
for an unstocked item; restock mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import Item
from core.outbox import OutboxEvent
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer
from tests.vending.conftest import World, browser_sqlite_url, running_kiosk
from vending import charges, ledger, tools
from vending.models import LedgerEntry, Slot, SlotLot, Tool, Worker

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # gitignored: for a person to look at


@pytest.fixture(params=["sqlite"])
def database_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only: the flows are the same and Chromium is the slow part."""
    return browser_sqlite_url(tmp_path)


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard) as world:
        yield world


def _open_kiosk(page: Any, live_server: LiveServer, query: str = "") -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "crib")
    page.fill("input[name=password]", "granite-bicycle-3")
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


def _finish(page: Any) -> str:
    page.wait_for_selector("#screen-result:not([hidden])", timeout=15000)
    text = str(page.inner_text("#result-text"))
    page.click("#result-ok")
    page.wait_for_selector("#screen-items:not([hidden])")
    return text


def test_two_items_with_a_required_job_number(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any, lockboard: LockBoardSim
) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        charges.set_mode(s, kiosk_world.site_id, "job", "required")
    _open_kiosk(page, live_server)
    _badge_in(page)
    assert page.inner_text("#charges label:has([data-charge=job]) .k-req") == "required"  # said before a choice
    page.click("[data-slot=A1]")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == "Enter the job number first: it is required on this machine."
    assert page.get_attribute("[data-charge=job]", "aria-invalid") == "true"  # refused before anything moved
    assert lockboard.unlock_count(0, 0) == 0
    page.wait_for_selector("#screen-items:not([hidden])")
    page.fill("[data-charge=job]", "J-100")
    page.click("[data-slot=A1]")
    page.click("#qty-plus")
    page.click("#take")
    assert _finish(page) == "Done: 2 × Gloves"
    page.fill("[data-charge=job]", "J-100")
    page.click("[data-slot=A3]")
    page.click("#take")
    assert _finish(page) == "Done: 1 × Ear plugs"
    with app.extensions["vendtrack"].session_factory() as s:
        issued = s.execute(
            select(LedgerEntry.slot_id, LedgerEntry.quantity, LedgerEntry.charge_codes).where(
                LedgerEntry.kind == "issue"
            )
        ).all()
        assert sorted((slot, qty, json.loads(codes)) for slot, qty, codes in issued) == sorted(
            [(kiosk_world.slots["A1"], -2, {"job": "J-100"}), (kiosk_world.slots["A3"], -1, {"job": "J-100"})]
        )
        assert ledger.on_hand(s, kiosk_world.slots["A1"]) == 3


def test_tool_out_and_back_damaged_and_a_request_for_an_unstocked_item(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any
) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        tools.add_tool(s, "TW-9", kiosk_world.items["DRL-8"], kiosk_world.site_id)
        charges.set_mode(s, kiosk_world.site_id, "job", "optional")
    _open_kiosk(page, live_server)
    _badge_in(page)
    assert page.is_visible("#charges [data-charge=job]")  # on the items tab: a take may carry a job
    page.click("[data-tab=tools]")
    assert page.inner_text("#items-heading") == "Tools"  # the heading names the open tab, not "Choose an item"
    assert page.is_hidden("#charges")  # charge codes go with a take only: not offered where they would be ignored
    page.click("[data-checkout=TW-9]")
    page.wait_for_selector("[data-return=TW-9]")
    assert "Checked out TW-9" in page.inner_text("#message")
    conditions = page.locator("[data-condition=TW-9] option")
    assert conditions.all_inner_texts() == ["Good", "Damaged", "Lost"]
    page.select_option("[data-condition=TW-9]", "damaged")
    page.click("[data-return=TW-9]")
    page.wait_for_selector("[data-return=TW-9]", state="detached")
    assert "Returned TW-9" in page.inner_text("#message")
    assert page.locator("[data-checkout=TW-9]").count() == 0  # in repair: not offered again
    page.click("[data-tab=ask]")
    assert page.inner_text("#items-heading") == "Ask for an item"
    page.fill("#ask-text", "anti-vibration gloves, size 10")
    page.press("#ask-text", "Enter")
    page.wait_for_function("() => document.getElementById('message').innerText.includes('Request sent')")
    with app.extensions["vendtrack"].session_factory() as s:
        tool = s.scalar(select(Tool).where(Tool.serial == "TW-9"))
        assert tool is not None and tool.status == "repair"  # damaged: flagged for repair, not back on issue
        asked = s.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "vending.item_requested")).one()
        assert json.loads(asked)["data"]["description"] == "anti-vibration gloves, size 10"


def test_restocker_counts_and_fills_a_slot(app: Flask, kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
        assert worker is not None
        worker.restocker = True
        ledger.post(s, slot_id=kiosk_world.slots["A2"], kind="issue", quantity=-2, key="used", at=_now(app))
    _open_kiosk(page, live_server)
    _badge_in(page)
    page.click("#restock-tab")
    page.wait_for_selector("[data-restock=A2]")
    assert "pick 2" in page.inner_text("#restock")
    page.fill("[data-count=A2]", "2")  # one fewer than the books say
    page.fill("[data-added=A2]", "3")
    page.click("[data-restock=A2]")
    page.wait_for_function("() => document.getElementById('message').innerText.includes('flagged')")
    assert "counted 2, expected 3" in page.inner_text("#message")
    page.wait_for_selector("text=Nothing to pick.")
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A2"]) == 5
        kinds = s.scalars(
            select(LedgerEntry.kind).where(LedgerEntry.slot_id == kiosk_world.slots["A2"]).order_by(LedgerEntry.id)
        ).all()
        assert kinds[-2:] == ["count", "restock"]


def _now(app: Flask) -> Any:
    return app.extensions["vendtrack"].clock.now()


def test_restocker_scans_a_label_into_a_slot(
    app: Flask, kiosk_world: World, live_server: LiveServer, page: Any
) -> None:
    """A keyboard-wedge scan (the label, then Enter) in a slot's Scan field: a wrong item is refused with the
    reason, the right label fills the slot by its count and keeps its lot. GTIN 09521234543213 is GS1's
    demonstration GTIN (company prefix 952 is reserved for examples)."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
        assert worker is not None
        worker.restocker = True
        ledger.post(s, slot_id=kiosk_world.slots["A3"], kind="issue", quantity=-3, key="used", at=_now(app))
        plugs = s.scalar(select(Item).where(Item.sku == "EAR-1"))
        assert plugs is not None
        plugs.gtin = "09521234543213"
    expiry = _now(app).date() + timedelta(days=300)
    label = f"(01)09521234543213(17){expiry:%y%m%d}(10)EP-9(30)2"
    _open_kiosk(page, live_server)
    _badge_in(page)
    page.click("#restock-tab")
    page.wait_for_selector("[data-scan=A3]")
    page.click("[data-scan=A3]")
    page.keyboard.type("DRL-8")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('message').innerText.includes('slot A3 holds Ear plugs')")
    page.fill("[data-scan=A3]", "")
    page.click("[data-scan=A3]")
    page.keyboard.type(label)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('message').innerText.includes('Slot A3 saved')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "kiosk-restock-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "kiosk-restock-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A3"]) == 4
        lot = s.scalars(select(SlotLot).where(SlotLot.lot == "EP-9")).one()
        assert (lot.quantity, lot.expiry) == (2, expiry)
