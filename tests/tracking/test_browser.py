"""The locate page in headless Chromium: search, nearest available, a floor map that refreshes by itself, and a map
of one floor at a time in a building whose floors share coordinates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from core.clock import ManualClock
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import LiveServer
from tests.tracking.conftest import seed_floor, seed_two_floors, tag_key
from tracking import locate_events
from tracking.observation import Observation
from tracking.pipeline import EXTRAS_KEY, Pipeline

pytestmark = pytest.mark.browser


def _hear(pipeline: Pipeline, clock: ManualClock, seconds: int, levels: dict[str, int]) -> None:
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, tag_key(1), rssi, -59, None, None, now) for gw, rssi in levels.items()])
        clock.advance(seconds=1)
    pipeline.flush()


def test_nurse_finds_a_pump_and_sees_it_move_on_the_map(app: Flask, live_server: LiveServer, page: Any) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
    services = app.extensions["vendtrack"]
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=150))  # the pipeline's time catches up with ours
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, clock)
    pipeline.refresh_floor(force=True)
    _hear(pipeline, clock, 30, {"gw-a": -58, "gw-b": -80})
    page.goto(live_server.url + "/tracking/")
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", "walnut-lantern-7")
    page.click("button[type=submit]")
    page.fill("input[name=q]", "pump")
    page.click("form[role=search] button")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 2
    first = rows.nth(0)
    assert first.locator(".room").inner_text() == "Room A"
    assert "min ago" in first.locator(".seen").inner_text()
    assert first.locator(".conf").inner_text().endswith("%")
    dot = page.locator("#floor-map circle.dot")
    dot.first.wait_for()
    assert page.locator("#floor-map polygon.zone").count() == 3
    assert dot.first.get_attribute("data-zone") == "A"
    _hear(pipeline, clock, 120, {"gw-a": -85, "gw-b": -57})  # the pump is wheeled into room B
    page.wait_for_function(
        "() => { const d = document.querySelector('#floor-map circle.dot'); return d && d.dataset.zone === 'B'; }",
        timeout=10000,
    )
    assert first.locator(".room").inner_text() == "Room B"
    page.select_option("select[name=type]", "infusion_pump")
    page.select_option("select[name=from]", "A")
    page.click("#nearest-form button")
    assert "Infusion pump 1" in page.locator("#nearest").inner_text()
    page.click("#nearest a")
    assert page.locator("#room").inner_text() == "Room B"
    assert page.locator("#history tbody tr").count() == 2


def _zones_on_map(page: Any) -> list[str]:
    codes: list[str] = page.eval_on_selector_all("#floor-map polygon.zone", "els => els.map(e => e.dataset.zone)")
    return sorted(codes)


def _wait_for_zones(page: Any, codes: list[str]) -> None:
    page.wait_for_function(
        "codes => JSON.stringify([...document.querySelectorAll('#floor-map polygon.zone')]"
        ".map(e => e.dataset.zone).sort()) === JSON.stringify(codes)",
        arg=codes,
        timeout=10000,
    )


def test_nurse_switches_floors_and_a_search_brings_the_map_to_the_assets_floor(
    app: Flask, live_server: LiveServer, page: Any
) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_two_floors(session)
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
    page.goto(live_server.url + "/tracking/")
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", "walnut-lantern-7")
    page.click("button[type=submit]")
    _wait_for_zones(page, ["101", "102"])  # the first floor; floor 2's rooms, drawn at the same place, are not
    assert page.locator("#floor-picker a.floor-button").count() == 2
    assert page.locator("#floor-picker a[aria-current=true]").inner_text() == "Floor 1"
    page.click("#floor-picker a.floor-button[data-floor='2']")
    _wait_for_zones(page, ["201", "204"])
    assert page.locator("#map-floor").inner_text() == "Ward B, floor 2"
    assert page.locator("#floor-picker a[aria-current=true]").inner_text() == "Floor 2"
    assert sorted(page.eval_on_selector_all("#floor-map rect.gw", "els => els.map(e => e.dataset.gateway)")) == [
        "gw-201",
        "gw-204",
    ]
    dots = page.eval_on_selector_all("#floor-map circle.dot", "els => els.map(e => e.dataset.zone)")
    assert sorted(dots) == ["201", "204"]  # pump 1 (floor 1, room 101) is not drawn here
    assert "building=Ward+B" in page.url and "floor=2" in page.url
    page.wait_for_selector("#floor-map[data-refresh=push]")
    stamp = page.get_attribute("#floor-map", "data-refreshed")
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:  # a pushed move refreshes the map
        locate_events.announce(session, "moved", [floor.asset_ids["W-1"]], datetime.now(UTC))
    page.wait_for_function(
        "old => document.querySelector('#floor-map').dataset.refreshed !== old", arg=stamp, timeout=10000
    )
    assert _zones_on_map(page) == ["201", "204"]  # the refresh keeps the chosen floor
    page.reload()
    _wait_for_zones(page, ["201", "204"])  # and so does a reload (or a shared link) through the URL

    page.fill("input[name=q]", "Infusion pump 1")  # located in Room 101, floor 1
    page.click("form[role=search] button")
    _wait_for_zones(page, ["101", "102"])
    assert page.locator("#map-floor").inner_text() == "Ward B, floor 1"
    highlighted = page.locator("#floor-map circle.dot.selected")
    highlighted.wait_for()
    assert highlighted.get_attribute("data-asset-id") == str(floor.asset_ids["W-1"])
    assert highlighted.get_attribute("data-zone") == "101"
    assert page.locator("#floor-map polygon.zone.selected").get_attribute("data-zone") == "101"
    row = page.locator("#results tbody tr").first
    assert row.locator(".room").inner_text() == "Room 101"
    assert row.locator(".where").inner_text() == "· Ward B, floor 1"
    assert "floor=1" in page.url

    page.fill("input[name=q]", "pump")
    page.click("form[role=search] button")
    rows = page.locator("#results tbody tr")
    assert [rows.nth(i).locator(".where").inner_text() for i in range(2)] == ["· Ward B, floor 1", "· Ward B, floor 2"]
    rows.nth(1).locator("button.show-on-map").click()  # pump 2, on the other floor
    _wait_for_zones(page, ["201", "204"])
    page.wait_for_function(
        "id => { const d = document.querySelector('#floor-map circle.dot.selected');"
        " return d && d.dataset.assetId === id; }",
        arg=str(floor.asset_ids["W-2"]),
        timeout=10000,
    )
    assert page.locator("#floor-map polygon.zone.selected").get_attribute("data-zone") == "204"
