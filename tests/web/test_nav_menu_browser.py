"""The grouped top menu in Chromium against the running demo: a disclosure button per group, opened and closed by
keyboard (Enter, Space, Escape) and by pointer without hover, one group open at a time, each role seeing only its
own links, the phone menu at 390 px with 44 px targets, axe with a group open, and the German labels.
Screenshots: test-screenshots/menu-*."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.runtime import DemoContext
from tests.web.test_a11y_browser import _axe

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"
GROUPS = "#site-nav .nav-group-toggle"


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _visible_links(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "#site-nav a", "els => els.filter(e => e.getClientRects().length).map(e => e.getAttribute('href'))"
        )
    )


def _expanded(page: Any) -> list[str]:
    return [page.get_attribute(f"{GROUPS} >> nth={i}", "aria-expanded") for i in range(page.locator(GROUPS).count())]


def test_admin_opens_and_closes_groups_by_keyboard_one_at_a_time(
    login_as: Callable[..., Any], people_demo: DemoContext
) -> None:
    page = login_as("admin")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(people_demo.base_url + "/")
    names = page.eval_on_selector_all(GROUPS, "els => els.map(e => e.innerText.replace(/[▾▴]/g, '').trim())")
    assert names == ["Vending", "Tracking", "Purchasing", "Admin"], names
    assert _visible_links(page) == []  # every group closed: one row of four buttons
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None and bar["height"] <= 64, bar

    page.focus(f"{GROUPS} >> nth=2")
    page.keyboard.press("Enter")
    assert _expanded(page) == ["false", "false", "true", "false"]
    purchasing = _visible_links(page)
    assert "/procurement/" in purchasing and all(link.startswith("/procurement") for link in purchasing), purchasing
    page.keyboard.press("Tab")  # into the open group: its first link
    assert page.evaluate("document.activeElement.getAttribute('href')") == purchasing[0]
    _shot(page, "menu-desktop-admin-purchasing")
    page.keyboard.press("Escape")  # closes the group and gives the focus back to its button
    assert _expanded(page) == ["false"] * 4
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "nav-group-3"

    page.focus(f"{GROUPS} >> nth=0")
    page.keyboard.press(" ")
    assert _expanded(page) == ["true", "false", "false", "false"]
    page.click(f"{GROUPS} >> nth=3")  # a pointer, no hover: opening another group closes the first
    assert _expanded(page) == ["false", "false", "false", "true"]
    assert "/admin/users" in _visible_links(page)
    page.mouse.click(1300, 700)  # a click elsewhere on the page closes it
    assert _expanded(page) == ["false"] * 4
    page.click(f"{GROUPS} >> nth=3")
    page.click("#site-nav a[href='/admin/users']")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users")


def test_each_role_sees_only_its_own_links(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    admin = login_as("admin")
    admin.goto(people_demo.base_url + "/")
    shown = admin.eval_on_selector_all("#site-nav a", "els => els.map(e => e.getAttribute('href'))")
    assert len(shown) > 8 and "/admin/users" in shown
    seen: list[str] = []
    for i in range(admin.locator(GROUPS).count()):  # one group open at a time
        admin.click(f"{GROUPS} >> nth={i}")
        seen += _visible_links(admin)
    assert seen == shown  # every link sits in exactly one group
    for user, forbidden in (("buyer", ("/admin", "/tracking")), ("nurse", ("/admin", "/procurement"))):
        page = login_as(user)
        page.goto(people_demo.base_url + "/")
        assert page.locator(GROUPS).count() == 0  # 8 links or fewer fit in one row: the flat menu, no extra click
        links = _visible_links(page)
        assert links and not [link for link in links if link.startswith(forbidden)], (user, links)


def test_phone_menu_groups_fit_390px_with_44px_targets(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("admin", phone=True)
    page.goto(people_demo.base_url + "/")
    page.click("#menu-toggle")
    toggles = page.eval_on_selector_all(GROUPS, "els => els.map(e => e.getBoundingClientRect().height)")
    assert len(toggles) == 4 and min(toggles) >= 44, toggles
    page.click(f"{GROUPS} >> nth=1")
    sizes = page.eval_on_selector_all(
        "#site-nav a",
        "els => els.filter(e => e.getClientRects().length).map(e => [e.getBoundingClientRect().height, "
        "e.getBoundingClientRect().right])",
    )
    assert sizes and min(h for h, _r in sizes) >= 44 and max(r for _h, r in sizes) <= 390, sizes
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "menu-phone-admin-tracking")
    page.keyboard.press("Escape")  # the group first...
    assert page.is_visible(GROUPS) and _expanded(page) == ["false"] * 4
    page.keyboard.press("Escape")  # ...then the menu
    assert page.is_hidden("#site-nav")


def test_axe_with_a_group_open_and_german_labels(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("admin", bypass_csp=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(people_demo.base_url + "/procurement/")
    page.select_option("#language", "de")  # the language menu: this browser and the admin's saved language
    page.wait_for_function("() => document.documentElement.lang === 'de'")
    names = page.eval_on_selector_all(GROUPS, "els => els.map(e => e.innerText.replace(/[▾▴]/g, '').trim())")
    assert names == ["Automaten", "Ortung", "Einkauf", "Verwaltung"], names
    page.click(f"{GROUPS} >> nth=2")
    assert "Bestellungen" in page.inner_text("#nav-group-3")
    _shot(page, "menu-de-desktop-admin-einkauf")
    found = _axe(page)
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps(bad, indent=1)
    page.select_option("#language", "en")  # and back, for the other tests
    page.wait_for_function("() => document.documentElement.lang === 'en'")
