"""Tracking alerts worked in headless Chromium, as each role would: staff acknowledge, assign and resolve with a
note; an alert resolves by itself when its condition clears; a snoozed alert hides until its time (a manual clock
the app and the pipeline share); routing decides who sees gateway alerts; the locate page shows an unknown asset
as "not heard for N min" with its last room. Screenshots go to screenshots/tracking/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from core.clock import ManualClock
from core.db import unit_of_work
from core.models import Site
from core.roles import Role
from core.users import create_user
from tests.conftest import LiveServer
from tests.tracking.conftest import Floor, seed_floor, tag_key
from tracking.observation import Observation
from tracking.pipeline import EXTRAS_KEY, Pipeline

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots" / "tracking"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    return create_app(config)


@pytest.fixture
def ward(app: Flask, clock: ManualClock) -> Iterator[tuple[Floor, Pipeline]]:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        floor = seed_floor(session)
        create_user(session, "nina", "anin-password", [Role.STAFF])
        create_user(session, "lee", "eel-password", [Role.STAFF])
        create_user(session, "ada", "ada-password", [Role.ADMIN])
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, clock)
    pipeline.refresh_floor(force=True)
    yield floor, pipeline


def hear(pipeline: Pipeline, clock: ManualClock, seconds: int, levels: dict[str, int], minor: int = 1) -> None:
    """The tag `minor` heard once a second by each gateway at the given RSSI, then one flush."""
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, tag_key(minor), rssi, -59, None, None, now) for gw, rssi in levels.items()])
        clock.advance(seconds=1)
    pipeline.flush()


def to_exit(pipeline: Pipeline, clock: ManualClock) -> None:
    """Infusion pump 1 is wheeled into the exit: a zone-exit alert."""
    hear(pipeline, clock, 20, {"gw-x": -56, "gw-b": -84})


def log_in(page: Any, server: LiveServer, who: str, path: str = "/tracking/alerts") -> None:
    page.goto(server.url + path)
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", f"{who[::-1]}-password")
    page.click("button[type=submit]")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def history(page: Any) -> list[str]:
    lines: list[str] = page.eval_on_selector_all("#history li", "els => els.map(e => e.innerText)")
    return lines


def test_staff_acknowledge_assign_and_resolve_with_a_note(
    ward: tuple[Floor, Pipeline], clock: ManualClock, live_server: LiveServer, page: Any
) -> None:
    _floor, pipeline = ward
    to_exit(pipeline, clock)
    log_in(page, live_server, "nina")
    row = page.locator("#alerts tbody tr[data-kind=zone_exit]")
    expect(row.locator(".subject")).to_have_text("Infusion pump 1 (A-1)")
    assert row.locator("td").first.inner_text() == "Zone exit"
    assert "infusion_pump" not in page.content()
    row.locator("button", has_text="Acknowledge").click()
    row = page.locator("#alerts tbody tr[data-kind=zone_exit]")
    expect(row).to_have_attribute("data-status", "acknowledged")
    assert row.locator("button", has_text="Acknowledge").count() == 0  # the table allows it no more
    row.locator("a", has_text="Work it").click()
    expect(page.locator("#acknowledge-form")).to_have_count(0)
    assert sorted(page.eval_on_selector_all("#assign-form option", "els => els.map(e => e.innerText)")) == [
        "lee",
        "nina",
    ]  # staff only: zone-exit alerts are not routed to the admin
    page.select_option("#assign-form select", label="lee")
    page.click("#assign-form button")
    expect(page.locator("#state")).to_have_text("Assigned to lee")
    page.fill("#resolve-form textarea", "   ")
    page.locator("#resolve-form textarea").evaluate("e => e.removeAttribute('required')")
    page.click("#resolve-form button")
    expect(page.locator("#error")).to_contain_text("write what was done")  # 422, nothing changed
    page.fill("#resolve-form textarea", "Found in the exit lobby, taken back to Room A")
    page.click("#resolve-form button")
    expect(page.locator("#state")).to_have_text("Resolved")
    expect(page.locator(".alert-actions")).to_have_count(0)  # a resolved alert offers no buttons
    expect(page.locator("#history li")).to_have_count(4)
    lines = history(page)
    assert lines[0].endswith("Raised: Infusion pump 1 (A-1) entered exit zone Exit")
    assert lines[1].endswith("nina acknowledged it.")
    assert lines[2].endswith("nina assigned it to lee.")
    assert lines[3].endswith("nina resolved it: “Found in the exit lobby, taken back to Room A”")
    shot(page, "alert-resolved")
    page.goto(live_server.url + "/tracking/alerts?show=resolved")
    expect(page.locator("#alerts tbody tr[data-kind=zone_exit]")).to_have_count(1)


def test_an_alert_resolves_by_itself_when_the_condition_clears(
    ward: tuple[Floor, Pipeline], clock: ManualClock, live_server: LiveServer, page: Any
) -> None:
    _floor, pipeline = ward
    to_exit(pipeline, clock)
    log_in(page, live_server, "nina")
    page.locator("#alerts tbody tr[data-kind=zone_exit] a", has_text="Work it").click()
    expect(page.locator("#state")).to_have_text("Open")
    hear(pipeline, clock, 30, {"gw-a": -55, "gw-x": -86})  # wheeled back into Room A
    page.reload()
    expect(page.locator("#state")).to_have_text("Resolved automatically")
    expect(page.locator("#resolution")).to_have_text("Resolved automatically: back in Room A")
    expect(page.locator("#history li").last).to_contain_text("Resolved automatically: back in Room A.")
    page.goto(live_server.url + "/tracking/alerts")
    expect(page.locator("#alerts tbody tr[data-kind=zone_exit]")).to_have_count(0)
    shot(page, "alerts-after-auto-resolve")


def test_a_snoozed_alert_hides_until_its_time(
    ward: tuple[Floor, Pipeline], clock: ManualClock, live_server: LiveServer, page: Any
) -> None:
    _floor, pipeline = ward
    to_exit(pipeline, clock)
    log_in(page, live_server, "nina")
    page.locator("#alerts tbody tr[data-kind=zone_exit] a", has_text="Work it").click()
    page.select_option("#snooze-form select", label="15 minutes")
    page.click("#snooze-form button")
    expect(page.locator("#state")).to_have_text("Snoozed")
    page.goto(live_server.url + "/tracking/alerts")
    expect(page.locator("#alerts tbody tr[data-kind=zone_exit]")).to_have_count(0)
    page.goto(live_server.url + "/tracking/alerts?show=snoozed")
    expect(page.locator("#alerts tbody tr[data-kind=zone_exit]")).to_have_count(1)
    clock.advance(minutes=14)
    page.goto(live_server.url + "/tracking/alerts")
    expect(page.locator("#alerts tbody tr[data-kind=zone_exit]")).to_have_count(0)  # not yet
    clock.advance(minutes=2)
    page.reload()
    row = page.locator("#alerts tbody tr[data-kind=zone_exit]")
    expect(row.locator(".state")).to_contain_text("Snooze ended")
    row.locator("a", has_text="Work it").click()
    expect(page.locator("#history")).to_contain_text("nina snoozed it until")


def test_gateway_alerts_go_to_admins_and_an_admin_can_reroute_them(
    app: Flask, ward: tuple[Floor, Pipeline], clock: ManualClock, live_server: LiveServer, page: Any
) -> None:
    _floor, pipeline = ward
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        session.add(Site(code="H1", name="General hospital"))
    hear(pipeline, clock, 5, {"gw-a": -60, "gw-b": -70, "gw-x": -80})
    hear(pipeline, clock, 20, {"gw-a": -60, "gw-b": -70})  # gw-x stops
    log_in(page, live_server, "nina")
    expect(page.locator("#alerts tbody tr[data-kind=gateway_down]")).to_have_count(0)
    page.goto(live_server.url + "/tracking/alerts/routing")
    assert "Not allowed" in page.content()  # staff cannot change the routing
    page.click("text=Log out")
    log_in(page, live_server, "ada")
    row = page.locator("#alerts tbody tr[data-kind=gateway_down]")
    expect(row.locator(".subject")).to_have_text("Gateway gw-x in Exit")
    shot(page, "alerts-admin")
    page.click("text=Who sees which alert")
    page.check("#routing-form input[name=gateway_down][value=staff]")
    page.click("#routing-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Alert routing for General hospital saved.")
    expect(page.locator("#routing-form input[name=gateway_down][value=staff]")).to_be_checked()
    shot(page, "alert-routing")
    page.click("text=Log out")
    log_in(page, live_server, "nina")
    expect(page.locator("#alerts tbody tr[data-kind=gateway_down]")).to_have_count(1)


def test_locate_shows_an_unheard_asset_with_its_last_room(
    ward: tuple[Floor, Pipeline], clock: ManualClock, live_server: LiveServer, page: Any
) -> None:
    _floor, pipeline = ward
    hear(pipeline, clock, 20, {"gw-a": -55, "gw-b": -80})
    hear(pipeline, clock, 12 * 60, {"gw-a": -70, "gw-b": -60}, minor=2)  # pump 1 is not heard any more
    log_in(page, live_server, "nina", "/tracking/?q=Infusion+pump+1")
    row = page.locator("#results tbody tr").first
    assert row.locator(".room").inner_text() == "Unknown · last in Room A"
    assert row.locator(".seen").inner_text() == "not heard for 12 min"
    assert row.locator(".conf").inner_text() == "—"
    page.locator("#floor-map").get_attribute("data-refreshed")
    page.wait_for_function("() => document.querySelector('#floor-map').dataset.refreshed", timeout=10000)
    assert row.locator(".seen").inner_text() == "not heard for 12 min"  # the map's refresh says the same
    assert page.locator("#map-legend li").count() >= 6
    shot(page, "locate-unknown")
    row.locator("a").first.click()
    expect(page.locator("#room")).to_have_text("Unknown · last in Room A")
    rooms = page.eval_on_selector_all("#history .room-name", "els => els.map(e => e.innerText)")
    assert rooms == ["Unknown", "Room A"]
    shot(page, "asset-history")
