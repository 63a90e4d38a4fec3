"""Pages on a phone: Chromium at 390×844 with touch, against the running demo. No page scrolls sideways, every
control on the named pages is at least 44×44 px, the menu collapses behind one button, the locate map zooms and its
markers are named links, the app is installable (manifest and icons). Screenshots go to test-screenshots/phone-*."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.runtime import DemoContext
from tests.web.people_pages import MAIN_PAGES, MEASURE_JS, resolve

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.mark.parametrize(("user", "name", "target"), MAIN_PAGES, ids=[name for _u, name, _t in MAIN_PAGES])
def test_no_sideways_scroll_and_44px_targets(
    login_as: Callable[..., Any], people_demo: DemoContext, user: str, name: str, target: str
) -> None:
    page = login_as(user, phone=True)
    page.goto(resolve(page, people_demo.base_url, target))
    page.wait_for_load_state("networkidle")
    found = page.evaluate(MEASURE_JS)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"phone-{name}.png"), full_page=True)
    assert found["overflow"] <= 0, f"{name}: the page is {found['overflow']} px wider than the phone"
    assert found["small"] == [], f"{name}: targets under 44 px: {found['small']}"


def test_menu_collapses_and_opens(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("admin", phone=True)
    page.goto(people_demo.base_url + "/tracking/")
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None and bar["height"] <= 70, f"the closed menu takes {bar} of the screen"
    assert page.is_hidden("#site-nav")
    page.click("#menu-toggle")
    assert page.get_attribute("#menu-toggle", "aria-expanded") == "true"
    assert page.is_visible("#site-nav .nav-group-toggle >> nth=0")  # the admin's many links come in groups
    page.click("#site-nav .nav-group-toggle >> nth=0")
    assert page.is_visible("#site-nav a >> nth=0")
    heights = page.eval_on_selector_all(
        "#site-nav a, #site-nav button",
        "els => els.filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 44, heights
    page.keyboard.press("Escape")  # closes the group first
    page.keyboard.press("Escape")
    assert page.is_hidden("#site-nav")


def test_destructive_and_constructive_actions_are_apart(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("approver", phone=True)
    page.goto(resolve(page, people_demo.base_url, "po"))
    if not page.locator("#approve").count():
        pytest.skip("the demo has no order waiting for approval yet")
    approve, reject = page.locator("#approve").bounding_box(), page.locator("#reject").bounding_box()
    gap = max(reject["y"] - (approve["y"] + approve["height"]), approve["y"] - (reject["y"] + reject["height"]))
    assert gap >= 16, f"Approve and Reject are {gap:.0f} px apart"


def test_locate_map_zooms_with_named_focusable_markers(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("nurse", phone=True)
    page.goto(people_demo.base_url + "/tracking/?q=pump")
    page.wait_for_selector("#floor-map a.marker")
    before = page.locator("#floor-map").bounding_box()["width"]
    page.click("[data-map-zoom=in]")
    page.click("[data-map-zoom=in]")
    assert page.locator("#floor-map").bounding_box()["width"] >= before * 1.9
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.wait_for_selector("#floor-map a.marker")
    names = page.eval_on_selector_all("#floor-map a.marker", "els => els.map(e => e.getAttribute('aria-label'))")
    assert names and all(n and "," in n for n in names), names[:3]
    sizes = page.eval_on_selector_all("#floor-map a.marker", "els => els.map(e => e.getBoundingClientRect().width)")
    assert min(sizes) >= 44, min(sizes)
    page.focus("#floor-map a.marker >> nth=0")
    assert page.evaluate("() => document.activeElement.classList.contains('marker')")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-locate-map-zoomed.png"))
    href = page.get_attribute("#floor-map a.marker >> nth=0", "href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{href}")


def test_installable_manifest_and_icons(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("nurse", phone=True)
    page.goto(people_demo.base_url + "/tracking/")
    href = page.get_attribute("link[rel=manifest]", "href")
    response = page.context.request.get(people_demo.base_url + href)
    assert response.status == 200 and response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.body())
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        got = page.context.request.get(people_demo.base_url + "/static/" + icon["src"])
        assert got.status == 200 and got.headers["content-type"].split(";")[0] == icon["type"], icon
