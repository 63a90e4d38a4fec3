"""The guided walk pages in headless Chromium on a phone (390×844, touch): pick the tag heard lately, tap rooms,
finish, see before/after and apply; no sideways scrolling, tap targets of 44 px. Also the Tools out page showing a
checked-out tagged tool with its holder and room. Screenshots go to $VENDTRACK_TEST_SHOTS when it is set."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from core.clock import ManualClock
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import LiveServer, login
from tests.tracking.conftest import seed_floor, tag_key
from tests.tracking.test_custody_views import _lend
from tracking import walk, walk_timing
from tracking.models import Tag, Walk, WalkMark
from tracking.observation import Observation
from tracking.pipeline import EXTRAS_KEY, Pipeline
from tracking.states import WalkStatus

# The path-loss model's levels at each room's centre on the three-zone floor (tracking.calibration), gw-b 6 dB hot
IN_A = {"gw-a": -48, "gw-b": -83, "gw-x": -94}
IN_B = {"gw-a": -89, "gw-b": -42, "gw-x": -86}
SHOTS = os.environ.get("VENDTRACK_TEST_SHOTS", "")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    return create_app(config)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _fits_the_phone(page: Any) -> None:
    page.wait_for_load_state("load")  # the shared script turns wide tables into cards once the page has loaded
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"({overflow})() <= 0", timeout=10_000)
    wide = page.evaluate(overflow)
    assert wide <= 0, f"the page scrolls sideways by {wide} px"
    small = page.eval_on_selector_all(
        "main button, main select, main .walk-tags button",
        "els => els.filter(e => e.offsetParent && e.getBoundingClientRect().height < 44).map(e => e.outerHTML)",
    )
    assert small == [], small


def _seed(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        seed_floor(session)
        create_user(session, "cara", "walnut-harbour-3", [Role.ADMIN])
        tag = session.scalar(select(Tag).where(Tag.tag_key == tag_key(2)))
        assert tag is not None
        tag.last_seen_at = services.clock.now() - timedelta(seconds=20)


def _stay(pipeline: Pipeline, clock: ManualClock, levels: dict[str, int], seconds: int = 40) -> None:
    """The carried tag heard once a second at these levels; the engine's flush records it for the walk."""
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, tag_key(2), rssi, -59, None, None, now) for gw, rssi in levels.items()])
        pipeline.flush()
        clock.advance(seconds=1)


def _login(page: Any, url: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", "cara")
    page.fill("input[name=password]", "walnut-harbour-3")
    page.click("button[type=submit]")


@pytest.mark.browser
def test_a_walk_on_a_phone_with_touch(app: Flask, live_server: LiveServer, phone: Any, clock: ManualClock) -> None:
    _seed(app)
    services = app.extensions["vendtrack"]
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, clock)
    pipeline.refresh_floor(force=True)
    _login(phone, live_server.url + "/tracking/walk/")
    phone.locator("h1").wait_for()
    assert "Guided calibration walk" in phone.locator("h1").inner_text()
    _fits_the_phone(phone)
    _shot(phone, "walk-start-phone")
    phone.locator(".walk-tags button", has_text="Infusion pump 2 (A-2)").tap()
    phone.locator("#mark-form").wait_for()
    _fits_the_phone(phone)
    pipeline.flush()  # the engine learns the tag is on a walk
    phone.select_option("select[name=zone]", "A")
    phone.locator("#mark-button").tap()
    phone.locator("#marks li[data-zone=A]").wait_for()
    _stay(pipeline, clock, IN_A)
    phone.select_option("select[name=zone]", "B")
    phone.locator("#mark-button").tap()
    phone.locator("#marks li[data-zone=B]").wait_for()
    _stay(pipeline, clock, IN_B, seconds=5)
    phone.reload()
    assert "Now in: Room B" in phone.locator("#walk-now").inner_text()
    assert "placed the tag here after" in phone.locator("#marks li[data-zone=A]").inner_text()
    _fits_the_phone(phone)
    _shot(phone, "walk-marking-phone")
    _stay(pipeline, clock, IN_B, seconds=35)
    phone.locator("#finish-form button").tap()
    phone.locator("#before-after").wait_for()
    assert -7.0 <= float(phone.locator("#offsets tr[data-gateway=gw-b] .fitted").inner_text()) <= -5.0
    _fits_the_phone(phone)
    _shot(phone, "walk-result-phone")
    phone.locator("#apply-form button").tap()
    phone.locator(".flash").first.wait_for()
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        found = session.scalar(select(Walk))
        assert found is not None and found.status == WalkStatus.APPLIED.value and found.tag_key == tag_key(2)
        assert len(session.scalars(select(WalkMark)).all()) == 2
    phone.set_viewport_size({"width": 1280, "height": 800})
    _shot(phone, "walk-applied-desktop")


@pytest.mark.browser
def test_the_walk_start_page_without_tags_heard_says_so(app: Flask, client: FlaskClient) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        create_user(session, "cara", "walnut-harbour-3", [Role.ADMIN])
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
    login(client, "nurse", "harbour-violet-5")
    assert client.get("/tracking/walk/").status_code == 403  # staff locate, they do not calibrate
    login(client, "cara", "walnut-harbour-3")
    assert 'id="no-tags-heard"' in client.get("/tracking/walk/").get_data(as_text=True)
    assert client.get("/tracking/walk/999").status_code == 404


@pytest.mark.browser
def test_tools_out_shows_a_checked_out_tagged_tool_with_its_holder_and_room(
    app: Flask, live_server: LiveServer, page: Any, phone: Any
) -> None:
    _lend(app)
    for browser_page, name in ((page, "custody-desktop"), (phone, "custody-phone")):
        browser_page.goto(live_server.url + "/tracking/custody/")
        browser_page.fill("input[name=username]", "nurse")
        browser_page.fill("input[name=password]", "harbour-violet-5")
        browser_page.click("button[type=submit]")
        row = browser_page.locator("table.tools-out tr[data-serial='A-1']")
        row.wait_for()
        assert browser_page.locator("h2.room-name").first.inner_text().startswith("Room B")
        cells = row.locator("td")
        assert "Infusion pump 1" in cells.nth(0).inner_text()
        assert "W003 Dana Fox" in cells.nth(1).inner_text() and "WO-7" in cells.nth(1).inner_text()
        assert "overdue" in cells.nth(3).inner_text()
        assert browser_page.locator("#tools-out-count").inner_text() == "1"
        _shot(browser_page, name)


@pytest.mark.browser
def test_the_locate_page_shows_time_to_room_change_on_a_phone(
    app: Flask, live_server: LiveServer, phone: Any, clock: ManualClock
) -> None:
    _seed(app)
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
        walk_id = walk.start(session, tag_key(2), "user:cara", clock)
        for room, placed_after in (("A", 4.0), ("B", 9.0), ("X", 6.0)):
            walk.mark(session, walk_id, room, "user:cara", clock)
            now = clock.now().timestamp()
            pending = [m for m in walk_timing.pending_marks(session) if m.zone == room]
            walk_timing.settle_marks(session, pending, [], {tag_key(2): (room, now + placed_after)}, now + 10)
            clock.advance(seconds=40)
    phone.goto(live_server.url + "/tracking/")
    phone.fill("input[name=username]", "nina")
    phone.fill("input[name=password]", "walnut-lantern-7")
    phone.click("button[type=submit]")
    line = phone.locator(".room-change").first
    line.wait_for()
    assert line.inner_text() == "Time to room change 6 s median, 9 s p90 (3 guided-walk marks, last 30 days)"
    _fits_the_phone(phone)
    _shot(phone, "locate-phone")
    phone.set_viewport_size({"width": 1280, "height": 800})
    _shot(phone, "locate-desktop")
