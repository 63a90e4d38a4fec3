"""The pick list page: expired lots listed to pull (and the pull recorded), fill by a scanned label with a wrong
item refused on its slot's form, and a restock typed as a scan on a phone in Chromium."""

from __future__ import annotations

import html as html_text
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core import notes
from core.db import unit_of_work
from core.models import Item
from core.roles import Role
from core.users import create_user
from tests.conftest import LiveServer, csrf_from, login
from tests.vending.conftest import World, seed_world
from vending import ledger
from vending.lots import LotRef
from vending.models import LedgerEntry, SlotLot

EARPLUGS_GTIN = "09521234543213"  # GS1's demonstration GTIN (company prefix 952 is reserved for examples)
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.fixture
def crib(app: Flask) -> World:
    """A3 (ear plugs) holds 4 of a lot that expired six days ago and 1 untracked; A1 a fresh lot of gloves."""
    services = app.extensions["vendtrack"]
    world = seed_world(services.session_factory)
    now = services.clock.now()
    with unit_of_work(services.session_factory) as s:
        create_user(s, "crib", "granite-bicycle-3", [Role.RESTOCKER])
        item = s.scalar(select(Item).where(Item.sku == "EAR-1"))
        assert item is not None
        item.gtin = EARPLUGS_GTIN
        ledger.post(s, slot_id=world.slots["A3"], kind="adjust", quantity=-4, key="a3", at=now)
        ledger.post(s, slot_id=world.slots["A3"], kind="restock", quantity=4, key="a3-lot", at=now,
                    lot=LotRef("EP-OLD", now.date() - timedelta(days=6)))  # fmt: skip
        ledger.post(s, slot_id=world.slots["A1"], kind="adjust", quantity=-2, key="a1", at=now)
        ledger.post(s, slot_id=world.slots["A1"], kind="restock", quantity=1, key="a1-lot", at=now,
                    lot=LotRef("GL-9", now.date() + timedelta(days=40)))  # fmt: skip
    return world


def test_the_pick_list_shows_expired_lots_and_records_their_pull(app: Flask, client: FlaskClient, crib: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    page_url = f"/vending/restock/{crib.machine_id}"
    html = client.get(page_url).get_data(as_text=True)
    expired_on = f"{app.extensions['vendtrack'].clock.now().date() - timedelta(days=6):%Y-%m-%d}"
    assert "Expired: pull these first" in html and "EP-OLD" in html and expired_on in html
    assert "Pulled 4 from A3" in html and "(+4 expired)" in html and "GL-9" in html
    with app.extensions["vendtrack"].session_factory() as s:
        lot_id = s.scalar(select(SlotLot.id).where(SlotLot.lot == "EP-OLD"))
    pulled = client.post(f"{page_url}/pull/{lot_id}", data={"csrf_token": csrf_from(html), "key": "p1"})
    assert pulled.status_code == 302
    after = client.get(page_url).get_data(as_text=True)
    assert "4 expired units pulled and recorded in the ledger." in after and "Expired: pull these first" not in after
    with app.extensions["vendtrack"].session_factory() as s:
        entry = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "pull")).one()
        assert (entry.quantity, entry.on_hand_after) == (-4, 1)
        assert notes.english(entry.reason) == f"expired (lot EP-OLD, expiry {expired_on}): pulled from slot A3"
        assert s.scalar(select(SlotLot.quantity).where(SlotLot.id == lot_id)) == 0
    client.set_cookie("vendtrack_lang", "de")  # the ledger's reason reads in German
    ledger_page = html_text.unescape(client.get("/vending/ledger").get_data(as_text=True))
    expired_de = f"{app.extensions['vendtrack'].clock.now().date() - timedelta(days=6):%d.%m.%Y}"
    assert f"abgelaufen (Charge EP-OLD, Ablaufdatum {expired_de}): aus Fach A3 entnommen" in ledger_page


def test_a_wrong_label_is_refused_on_its_slot_and_nothing_is_recorded(
    app: Flask, client: FlaskClient, crib: World
) -> None:
    login(client, "crib", "granite-bicycle-3")
    page_url = f"/vending/restock/{crib.machine_id}"
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    label = f"(01){EARPLUGS_GTIN}(17)301231(10)EP-NEW(30)2"
    refused = client.post(
        f"{page_url}/scan/A1",
        data={"csrf_token": token, "scan": label, "key": "s1"},
        headers={"Referer": f"http://localhost{page_url}"},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    said = f"scanned GTIN {EARPLUGS_GTIN} = Ear plugs; slot A1 holds Gloves: put it in slot A3"
    assert said in html and label in html  # the message beside the field, the scan kept to correct
    with app.extensions["vendtrack"].session_factory() as s:
        assert s.scalar(select(SlotLot.id).where(SlotLot.lot == "EP-NEW")) is None
        assert ledger.on_hand(s, crib.slots["A1"]) == 4
    unreadable = client.post(
        f"{page_url}/scan/A3",
        data={"csrf_token": token, "scan": "(01)09521234543214"},
        headers={"Referer": f"http://localhost{page_url}"},
    )
    assert unreadable.status_code == 422 and "wrong check digit (expected 3)" in unreadable.get_data(as_text=True)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


@pytest.mark.browser
def test_restock_by_a_typed_scan_on_a_phone(browser: Any, live_server: LiveServer, app: Flask, crib: World) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login")
        page.fill("input[name=username]", "crib")
        page.fill("input[name=password]", "granite-bicycle-3")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{live_server.url}/vending/restock/{crib.machine_id}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        _shot(page, "restock-phone.png")
        expiry = app.extensions["vendtrack"].clock.now().date() + timedelta(days=200)
        scan = page.get_by_label("Scan into A1")
        scan.fill(f"(01){EARPLUGS_GTIN}(17){expiry:%y%m%d}(10)EP-NEW(30)2")
        scan.press("Enter")
        page.get_by_text("slot A1 holds Gloves: put it in slot A3").first.wait_for()
        _shot(page, "restock-phone-wrong-item.png")
        page.goto(f"{live_server.url}/vending/restock/{crib.machine_id}")
        page.get_by_role("button", name="Pulled 4 from A3").tap()
        page.get_by_text("4 expired units pulled and recorded in the ledger.").wait_for()
        scan = page.get_by_label("Scan into A3")
        scan.fill(f"(01){EARPLUGS_GTIN}(17){expiry:%y%m%d}(10)EP-NEW(30)2")
        scan.press("Enter")
        page.get_by_text("Slot A3: 2 × Ear plugs added by scan").wait_for()
        box = page.get_by_role("button", name="Add to A3").bounding_box()
        assert box is not None and box["height"] >= 44
        _shot(page, "restock-phone-scanned.png")
        page.goto(f"{live_server.url}/vending/ledger")
        page.get_by_text("EP-NEW (").first.wait_for()  # the restock's lot beside its entry
        _shot(page, "ledger-phone.png")
        page.set_viewport_size({"width": 1280, "height": 800})
        _shot(page, "ledger-desktop.png")
        page.goto(f"{live_server.url}/vending/restock/{crib.machine_id}")
        _shot(page, "restock-desktop.png")
    finally:
        context.close()
    with app.extensions["vendtrack"].session_factory() as s:
        lot = s.scalars(select(SlotLot).where(SlotLot.lot == "EP-NEW")).one()
        assert (lot.quantity, lot.expiry) == (2, expiry)
        assert ledger.on_hand(s, crib.slots["A3"]) == 3
