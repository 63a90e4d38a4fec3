"""The scan button in headless Chromium on a 390×844 touch screen: a fake camera shows a printed label (the label's
PDF → PNG → .y4m) and the page opens the record; without a camera the typed code does; another server's link is
refused; a supplier's GS1 label on a PO page goes to receiving by scan. Nothing is fetched from another host."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from procurement import orders
from tests.conftest import CHROMIUM, LiveServer
from tests.procurement.test_scan_receiving import PACK_GTIN, _label_gtins
from tests.procurement.test_views import _setup
from tests.tracking.conftest import Floor, seed_floor
from tests.web.fake_camera import write_y4m

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@contextmanager
def camera_showing(browser: Any, label_pdf: bytes, folder: Path) -> Iterator[Any]:
    """A second Chromium whose camera films the first page of `label_pdf` (a browser reads its fake file once)."""
    (folder / "label.pdf").write_bytes(label_pdf)
    subprocess.run(["pdftoppm", "-r", "120", "-png", "-f", "1", "-l", "1", "-singlefile", str(folder / "label.pdf"),
                    str(folder / "label")], check=True)  # fmt: skip
    y4m = write_y4m(folder / "label.png", folder / "label.y4m")
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *FAKE_CAMERA,
              f"--use-file-for-fake-video-capture={y4m}"],
    )  # fmt: skip
    try:
        yield chromium
    finally:
        chromium.close()


def _phone(browser: Any, server: LiveServer, user: str, password: str) -> tuple[Any, list[str]]:
    """A signed-in phone page and the list every request's URL is added to."""
    page = browser.new_context(**PHONE).new_page()
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.goto(server.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, seen


def _label(browser: Any, server: LiveServer, user: str, password: str, path: str) -> bytes:
    """The label PDF as the signed-in person gets it from the running server (its QR code holds the server's URL)."""
    page, _seen = _phone(browser, server, user, password)
    answer = page.request.get(server.url + path)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    body: bytes = answer.body()
    page.context.close()
    return body


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"scan-{name}.png"), full_page=True)


def _assets(app: Flask) -> Floor:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
    return floor


def test_camera_reads_an_asset_label_and_opens_the_asset(
    app: Flask, live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    floor = _assets(app)
    wheelchair = floor.asset_ids["A-3"]
    label = _label(browser, live_server, "nina", "walnut-lantern-7", f"/labels/assets.pdf?asset={wheelchair}")
    with camera_showing(browser, label, tmp_path) as chromium:
        page, seen = _phone(chromium, live_server, "nina", "walnut-lantern-7")
        page.goto(live_server.url + "/tracking/")
        page.tap("#scan-button")
        page.wait_for_url(f"**/tracking/assets/{wheelchair}", timeout=30_000)
        assert page.locator("h1").inner_text().startswith("Wheelchair 1")
        # from the asset page, the next asset's label opens that one (here: the same label, the same page)
        assert page.locator("#scan-button").is_visible()
    wasm = [url for url in seen if url.endswith(".wasm")]
    assert wasm and all(url.startswith(live_server.url + "/") for url in seen), [
        url for url in seen if not url.startswith(live_server.url)
    ]


def test_camera_reads_a_po_label_on_the_receiving_page(
    app: Flask, live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    world, number = _setup(app)
    with unit_of_work(world.factory) as s:
        orders.get_po(s, number).status = "sent"
    label = _label(browser, live_server, "bob", "bob-password", f"/labels/po/{number}.pdf")
    with camera_showing(browser, label, tmp_path) as chromium:
        page, _seen = _phone(chromium, live_server, "bob", "bob-password")
        page.goto(live_server.url + "/procurement/receiving")
        page.tap("#scan-button")
        page.wait_for_url(f"**/procurement/po/{number}#receive-form", timeout=30_000)
        assert page.locator("#receive-form").is_visible() and page.locator("#receive-scan").is_visible()


def test_without_a_camera_the_code_is_typed_and_foreign_links_are_refused(
    app: Flask, live_server: LiveServer, browser: Any
) -> None:
    floor = _assets(app)
    page, seen = _phone(browser, live_server, "nina", "walnut-lantern-7")  # no camera permission in this browser
    page.goto(live_server.url + "/tracking/")
    _shoot(page, "locate-phone")
    page.tap("#scan-button")
    status = page.locator("#scan-status.error")
    status.wait_for(timeout=15_000)
    assert "type the code below" in status.inner_text()
    assert page.locator("#scan-view").is_hidden()
    _shoot(page, "dialog-no-camera-phone")
    page.fill("#scan-code", "https://elsewhere.example/tracking/tag/A-1")
    page.tap("#scan-open")
    page.wait_for_function("() => document.querySelector('#scan-status').textContent.includes('elsewhere.example')")
    assert "another server (elsewhere.example)" in status.inner_text()
    port_elsewhere = live_server.url.rsplit(":", 1)[0] + ":1/tracking/tag/A-1"  # same host name, another server
    page.fill("#scan-code", port_elsewhere)
    page.tap("#scan-open")
    page.wait_for_function("() => document.querySelector('#scan-status').textContent.includes('not to this vendtrack')"
                           " && !document.querySelector('#scan-status').textContent.includes('elsewhere')")  # fmt: skip
    _shoot(page, "dialog-foreign-phone")
    assert page.url == live_server.url + "/tracking/"
    page.fill("#scan-code", "nope-9")
    page.tap("#scan-open")
    page.wait_for_function("() => document.querySelector('#scan-status').textContent.includes(\"'nope-9'\")")
    page.fill("#scan-code", "a-2")
    page.tap("#scan-open")
    page.wait_for_url(f"**/tracking/assets/{floor.asset_ids['A-2']}")
    _shoot(page, "asset-phone")
    page.tap("#scan-button")
    page.tap("#scan-cancel")
    assert page.locator("#scan-dialog").is_hidden()
    assert not [url for url in seen if not url.startswith(live_server.url)]


def test_a_supplier_label_typed_on_a_po_page_is_received_by_scan(
    app: Flask, live_server: LiveServer, browser: Any
) -> None:
    world, number = _setup(app)
    with unit_of_work(world.factory) as s:
        orders.get_po(s, number).status = "sent"
    _label_gtins(world)
    page, _seen = _phone(browser, live_server, "bob", "bob-password")
    page.goto(f"{live_server.url}/procurement/po/{number}")
    _shoot(page, "po-phone")
    page.tap("#scan-button")
    page.locator("#scan-status.error").wait_for(timeout=15_000)
    page.fill("#scan-code", f"(01){PACK_GTIN}(10)L7(37)2")
    page.tap("#scan-open")
    page.wait_for_function("() => document.body.textContent.includes('12 × GLOVE booked on line 1, lot L7')")
    page.goto(live_server.url + "/procurement/receiving")
    _shoot(page, "receiving-phone")


def test_a_refused_camera_says_so_and_the_typed_code_works(app: Flask, live_server: LiveServer, browser: Any) -> None:
    floor = _assets(app)
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream=deny"],
    )  # fmt: skip
    try:
        page, _seen = _phone(chromium, live_server, "nina", "walnut-lantern-7")
        page.goto(f"{live_server.url}/tracking/assets/{floor.asset_ids['A-1']}")
        page.tap("#scan-button")
        status = page.locator("#scan-status.error")
        status.wait_for(timeout=15_000)
        assert "The camera was not allowed" in status.inner_text()
        page.fill("#scan-code", f"{live_server.url}/tracking/tag/A-3")  # the link a label holds, typed
        page.tap("#scan-open")
        page.wait_for_url(f"**/tracking/assets/{floor.asset_ids['A-3']}")
    finally:
        chromium.close()
