"""A vending day walked in Chromium by each role, on SQLite and PostgreSQL, with the figures checked end to end:
usage (page = CSV = XLSX = database), a count difference from restocker to manager (overview, queue, shrinkage,
audit), tools unavailable with the reason on the Tools page and at the kiosk, a damaged return acknowledged, and
the kiosk at 800x480 and 1920x1080. Screenshots go to screenshots/ (gitignored) for a person to look at."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import LiveServer
from tests.vending.conftest import World, kerong_config, seed_world
from vending import charges, ledger, tools, usage
from vending.models import LedgerEntry, ToolLoan
from vending.runtime import runtime

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture
def day(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    services = app.extensions["vendtrack"]
    world = seed_world(services.session_factory, kerong_config(lockboard.url))
    now = services.clock.now()
    with unit_of_work(services.session_factory) as s:
        create_user(s, "boss", "ssob-password", [Role.ADMIN])
        create_user(s, "crib", "birc-password", [Role.RESTOCKER])
        create_user(s, "nurse", "esrun-password", [Role.STAFF])
        charges.set_mode(s, world.site_id, "cost_center", "in_list")
        charges.add_code(s, world.site_id, "cost_center", "CC-100", "Assembly line")
        charges.add_code(s, world.site_id, "cost_center", "CC-200", "Maintenance")
        for n, (slot, worker, qty, center, days_ago) in enumerate(
            [("A1", "W1", 2, "CC-100", 3), ("A2", "W3", 1, "CC-200", 2), ("A3", "W2", 3, "CC-100", 1)]
        ):
            ledger.post(
                s,
                slot_id=world.slots[slot],
                kind="issue",
                quantity=-qty,
                key=f"day{n}",
                at=now - timedelta(days=days_ago),
                worker_id=world.workers[worker],
                charge_codes={"cost_center": center},
            )
        tools.add_tool(s, "TW-1", world.items["DRL-8"], world.site_id)
        tools.add_tool(s, "TW-2", world.items["DRL-8"], world.site_id, calibration_due=now - timedelta(days=2))
    SHOTS.mkdir(exist_ok=True)
    yield world
    runtime(services).runner.shutdown()
    runtime(services).pool.close_all()


@pytest.fixture
def as_user(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """as_user(name, (width, height)) -> a page logged in as that user, in a browser context of its own."""
    contexts: list[Any] = []

    def open_as(user: str, size: tuple[int, int] = (1366, 768)) -> Any:
        context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + "/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", f"{user[::-1]}-password")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)  # the login page has a top bar too: wait for the redirect
        return page

    yield open_as
    for context in contexts:
        context.close()


def _table(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector(selector, "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))")


def test_usage_page_csv_xlsx_and_database_agree(app: Flask, day: World, live_server: LiveServer, as_user: Any) -> None:
    page = as_user("boss")
    page.goto(live_server.url + "/vending/reports/usage")
    page.select_option("select[name=by]", "cost_center")
    page.click("#usage-filters button")
    page.wait_for_selector("h1:text('Usage by cost center')")
    shown = _table(page, "#usage-table")
    with app.extensions["vendtrack"].session_factory() as s:
        today = app.extensions["vendtrack"].clock.now().date()
        report = usage.run(s, usage.default_query(s, today, "cost_center"))
    expected = [report.headings] + [
        [str(c) if not hasattr(c, "quantize") else f"{c:.2f}" for c in row] for row in report.table()
    ]
    assert shown == expected
    assert shown[1:] == [
        ["CC-100", "Assembly line", "5", "7.50"],
        ["CC-200", "Maintenance", "1", "1.50"],
        ["Total", "", "6", "9.00"],
    ]
    page.screenshot(path=str(SHOTS / "usage.png"), full_page=True)
    with page.expect_download() as csv_download:
        page.click("#export-csv")
    assert list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_text()))) == shown
    with page.expect_download() as xlsx_download:
        page.click("#export-xlsx")
    book = load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes()))
    cells = [
        ["" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v)) for v in row]
        for row in book["Usage"].iter_rows(values_only=True)
    ]
    assert [r[:3] for r in cells] == [r[:3] for r in shown]
    assert [float(r[3]) for r in cells[1:]] == [float(r[3]) for r in shown[1:]]
    page = as_user("nurse")  # the nurse reads usage by group, never by named worker
    page.goto(live_server.url + "/vending/reports/usage?by=group")
    assert page.locator("select[name=by] option[value=worker]").count() == 0
    assert "Worker W1" not in page.content()
    for link in page.locator("header.topbar nav a").all():
        assert page.request.get(live_server.url + link.get_attribute("href")).status == 200


def test_count_difference_reaches_the_manager(app: Flask, day: World, live_server: LiveServer, as_user: Any) -> None:
    page = as_user("crib")
    page.goto(f"{live_server.url}/vending/restock/{day.machine_id}")
    page.get_by_label("Counted in A1").fill("2")  # the books say 3: the box is found by its label
    page.get_by_label("Added to A1").fill("0")
    page.click("button:text('Save A1')")
    page.wait_for_selector(".flash")
    assert "counted 2, expected 3: difference -1 sent to a manager for review" in page.inner_text(".flash")
    page = as_user("boss")
    page.goto(live_server.url + "/vending/")
    assert "1 open" in page.inner_text("#count-differences")
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    page.goto(live_server.url + "/vending/counts")
    row = _table(page, "#count-queue")[1]
    assert row[1:8] == ["L1", "A1", "GLV-1 · Gloves", "3", "2", "-1", "-1.50"]
    page.click("#count-queue button[value=accepted]")
    page.wait_for_selector("text=No count differences waiting.")
    page.goto(live_server.url + "/vending/reports/shrinkage")
    assert _table(page, "#shrinkage-table")[1] == ["L1 · Locker 1", "GLV-1 · Gloves", "1", "1", "0", "-1", "-1.50"]
    page.screenshot(path=str(SHOTS / "shrinkage.png"), full_page=True)
    page.goto(live_server.url + "/admin/audit")
    assert "vending.count.difference" in page.content() and "vending.count.accepted" in page.content()
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, day.slots["A1"]) == 2


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080)])
def test_kiosk_tools_and_charge_codes(
    app: Flask, day: World, live_server: LiveServer, as_user: Any, size: tuple[int, int]
) -> None:
    width, height = size
    page = as_user("boss")
    page.goto(live_server.url + "/vending/tools")
    tw2 = page.inner_text("#tools-table tr[data-serial=TW-2]")
    assert "Unavailable" in tw2 and "due for calibration since" in tw2
    page = as_user("crib", size)
    page.goto(live_server.url + "/kiosk/L1")
    page.wait_for_selector("#screen-signin:not([hidden])")
    page.screenshot(path=str(SHOTS / f"kiosk_signin_{width}x{height}.png"))
    page.keyboard.type("04A21B1C")
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    assert page.inner_text("#charges label:has([data-charge=cost_center]) .k-req") == "required"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tiles = [page.locator(f"[data-slot={c}]").bounding_box() for c in ("A1", "A2", "A3")]
    assert all(t is not None and t["x"] + t["width"] <= width and t["y"] + t["height"] <= height for t in tiles)
    used = sum(t["width"] for t in tiles if t) / width
    assert used > 0.6, f"tiles use {used:.0%} of the width"  # they fill the screen, not a corner
    page.screenshot(path=str(SHOTS / f"kiosk_{width}x{height}.png"))
    page.click("[data-slot=A1]")  # no cost center yet: refused before anything moves, with the reason
    assert page.inner_text("#message") == "Enter the cost center first: it is required on this machine."
    assert page.is_visible("#screen-items") and page.get_attribute("[data-charge=cost_center]", "aria-invalid")
    page.click("[data-tab=tools]")
    assert "Not available: due for calibration since" in page.inner_text("[data-unavailable=TW-2]")
    assert page.locator("[data-checkout=TW-2]").count() == 0
    page.click("[data-checkout=TW-1]")
    page.wait_for_selector("[data-return=TW-1]")
    page.select_option("[data-condition=TW-1]", "damaged")
    page.click("[data-return=TW-1]")
    page.wait_for_selector("[data-return=TW-1]", state="detached")
    said = page.inner_text("#message")
    assert said.startswith("Returned TW-1 as damaged: reported for repair by W1 at ")
    assert "under repair" in page.inner_text("[data-unavailable=TW-1]")
    page.screenshot(path=str(SHOTS / f"kiosk_tools_{width}x{height}.png"))
    with app.extensions["vendtrack"].session_factory() as s:
        loan = s.scalars(select(ToolLoan).order_by(ToolLoan.id.desc())).first()
        assert loan is not None and loan.condition == "damaged" and loan.returned_at is not None
        issues = s.scalars(select(LedgerEntry.idempotency_key).where(LedgerEntry.kind == "issue")).all()
        assert sorted(issues) == ["day0", "day1", "day2"]  # the refused take moved nothing
    page = as_user("boss")
    page.goto(live_server.url + "/vending/tools")
    assert _table(page, "#damage-table")[1][1:4] == ["TW-1 · Drill bit 8 mm", "W1 Worker W1", "Damaged"]
    page.screenshot(path=str(SHOTS / "tools.png"), full_page=True)
