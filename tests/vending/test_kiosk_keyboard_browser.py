"""The kiosk by keyboard only, in headless Chromium: ID + PIN typed, an item chosen and taken, sign-out; focus lands
on each new screen's heading; a keyboard-wedge badge reader works while a person is tabbing; large-text mode; every
kiosk control has a name and gloves-sized target. Screenshots go to test-screenshots/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer
from tests.vending.conftest import World, browser_sqlite_url, running_kiosk

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.fixture(params=["sqlite"])
def database_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only: the flows are the same and Chromium is the slow part."""
    return browser_sqlite_url(tmp_path)


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard) as world:
        yield world


def _open_kiosk(page: Any, live_server: LiveServer) -> None:
    """The crib's administrator signs the kiosk browser in once (that part is not the worker's)."""
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "crib")
    page.fill("input[name=password]", "granite-bicycle-3")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/kiosk/L1")
    page.wait_for_selector("#screen-signin:not([hidden])")


def _focused(page: Any) -> str:
    return str(page.evaluate("() => { const a = document.activeElement; return a.id || a.dataset.slot || a.tagName; }"))


def _tab_to(page: Any, selector: str, backwards: bool = False, limit: int = 30) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has focus; fail naming where focus went."""
    seen = []
    for _ in range(limit):
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        seen.append(_focused(page))
    raise AssertionError(f"Tab never reached {selector}; focus went through {seen}")


def _heading_focused(page: Any, heading_id: str) -> None:
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.id === id", arg=heading_id, timeout=10000
    )


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_keyboard_only_from_id_and_pin_to_sign_out(kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    _open_kiosk(page, live_server)
    _heading_focused(page, "signin-heading")
    _tab_to(page, "#show-pin")
    page.keyboard.press("Enter")  # the page-wide reader handler must not steal Enter/Space from a button
    _heading_focused(page, "worker-code")
    page.keyboard.type("W2")
    page.keyboard.press("Enter")  # on to the PIN field
    assert _focused(page) == "pin"
    page.keyboard.type("12")
    _tab_to(page, "[data-key='3']")
    page.keyboard.press("Space")  # keypad keys work from the keyboard too
    _tab_to(page, "[data-key='4']")
    page.keyboard.press("Enter")
    assert page.input_value("#pin") == "1234"
    _shot(page, "kiosk-keyboard-pin")
    _tab_to(page, "[data-key=OK]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    _heading_focused(page, "items-heading")
    assert page.inner_text("#who") == "Worker W2"

    _tab_to(page, "#tab-grid")
    page.keyboard.press("ArrowRight")  # tabs move with the arrow keys
    assert _focused(page) == "tab-tools" and page.is_visible("#tools") and page.is_hidden("#grid")
    page.keyboard.press("ArrowLeft")
    assert _focused(page) == "tab-grid" and page.is_visible("#grid")

    _tab_to(page, "[data-slot=A1]")
    _shot(page, "kiosk-keyboard-items")
    page.keyboard.press("Space")
    page.wait_for_selector("#screen-confirm:not([hidden])")
    _heading_focused(page, "confirm-name")
    _tab_to(page, "#cancel")
    page.keyboard.press("Enter")  # back returns focus to the tile it came from
    page.wait_for_selector("#screen-items:not([hidden])")
    assert page.evaluate("() => document.activeElement.dataset.slot") == "A1"
    page.keyboard.press("Enter")
    _heading_focused(page, "confirm-name")
    _tab_to(page, "#take")
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-result:not([hidden])", timeout=15000)
    _heading_focused(page, "result-text")
    assert page.inner_text("#result-text") == "Done: 1 × Gloves"
    _shot(page, "kiosk-keyboard-result")
    _tab_to(page, "#result-ok")
    page.keyboard.press("Enter")
    _heading_focused(page, "items-heading")
    _tab_to(page, "#logout", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-signin:not([hidden])")
    _heading_focused(page, "signin-heading")
    assert page.inner_text("#message") == "Signed out."


def test_badge_reader_types_while_focus_is_on_a_button(kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    _open_kiosk(page, live_server)
    _tab_to(page, "#show-pin")
    page.keyboard.type("04A21B1C")  # the wedge reader "types" the badge wherever focus is
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    assert page.inner_text("#who") == "Worker W1"


def test_large_text_gloves_and_names(kiosk_world: World, live_server: LiveServer, page: Any) -> None:
    _open_kiosk(page, live_server)
    small = page.evaluate("() => parseFloat(getComputedStyle(document.getElementById('kiosk')).fontSize)")
    _tab_to(page, "[data-large-text]")
    page.keyboard.press("Space")
    assert page.get_attribute("[data-large-text]", "aria-pressed") == "true"
    large = page.evaluate("() => parseFloat(getComputedStyle(document.getElementById('kiosk')).fontSize)")
    assert large > small * 1.2, (small, large)
    page.reload()  # the kiosk remembers it
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.evaluate("() => document.documentElement.classList.contains('large-text')")
    page.keyboard.type("04A21B1C")
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    _shot(page, "kiosk-large-text")
    unnamed, small_targets = page.evaluate(
        """() => {
          const unnamed = [], small = [];
          for (const el of document.querySelectorAll('#kiosk button, #kiosk input, #kiosk select')) {
            const r = el.getBoundingClientRect();
            if (!r.width || el.closest('[hidden]')) continue;
            const label = el.getAttribute('aria-label')
              || (el.labels && el.labels.length && el.labels[0].textContent.trim()) || el.textContent.trim();
            if (!label) unnamed.push(el.outerHTML.slice(0, 80));
            const size = Math.round(r.width) + 'x' + Math.round(r.height);
            if (r.height < 48 || r.width < 48) small.push(el.outerHTML.slice(0, 80) + ' ' + size);
          }
          return [unnamed, small];
        }"""
    )
    assert unnamed == [] and small_targets == [], (unnamed, small_targets)
