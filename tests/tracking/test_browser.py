"""The locate page in headless Chromium: search, nearest available, and a floor map that refreshes by itself."""

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
from tests.tracking.conftest import seed_floor, tag_key
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
        create_user(session, "nina", "nina-password", [Role.STAFF])
    services = app.extensions["vendtrack"]
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=150))  # the pipeline's time catches up with ours
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, clock)
    pipeline.refresh_floor(force=True)
    _hear(pipeline, clock, 30, {"gw-a": -58, "gw-b": -80})
    page.goto(live_server.url + "/tracking/")
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", "nina-password")
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
