"""The headline flow in headless Chromium against the running demo (every device simulated): a worker takes an item
at the kiosk → the buyer sees the draft turned order → the approver approves → the PDF opens → the buyer e-mails it
and the demo's SMTP capture has it with the PDF. Screenshots of the queue, the PO page (buyer, approver) and a
replenishment run's result go to test-screenshots/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.runtime import DemoContext
from procurement.smtp_capture import SmtpCapture
from tests.support import wait_until
from tracking.demo import REAL_TOPICS_KEY
from vending.demo import badge_of
from web import demo_links
from web.app import create_app
from web.demo import _ServerThread, build_demo_app, start_demo
from web.demo_logins import demo_password
from web.smoke_flow import cross_domain_smoke
from web.workers import WorkerSet

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoContext, SmtpCapture]]:
    """`vendtrack demo --no-shift` in this process: fresh SQLite, simulators, workers, SMTP capture."""
    instance = tmp_path_factory.mktemp("demo-instance")
    capture = demo_links.start_mail_capture(instance / "mail")
    app = build_demo_app(create_app, instance, {"smtp_host": capture.host, "smtp_port": capture.port})
    server = _ServerThread(app, "127.0.0.1", 0)
    state = {demo_links.MAIL_KEY: capture, REAL_TOPICS_KEY: True}  # as `vendtrack demo --espresense`
    demo = start_demo(app, f"http://127.0.0.1:{server.port}", state)
    workers = WorkerSet(demo.workers)
    workers.start()
    server.start()
    try:
        yield demo, capture
    finally:
        server.shutdown()
        workers.stop()
        capture.__exit__(None, None, None)


def _login(browser: Any, base: str, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", demo_password(user))
    page.click("button[type=submit]")
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _wait_for_row(page: Any, url: str, text: str, deadline_s: float = 60.0) -> Any:
    """Reload the queue until an order row mentions `text` (the draft is made and submitted by the workers)."""

    def row() -> Any:
        page.goto(url)
        rows = page.locator("tr[data-po]", has_text=text)
        return rows.first if rows.count() else None

    return wait_until(row, timeout=deadline_s, what=f"an order with {text} on {url}", every=1.0)


def test_worker_buyer_approver_from_kiosk_to_captured_email(
    browser: Any, running_demo: tuple[DemoContext, SmtpCapture]
) -> None:
    demo, capture = running_demo
    base = demo.base_url
    worker = _login(browser, base, "restocker")  # the kiosk browser is signed in by the crib's restocker
    worker.goto(base + "/kiosk/LOCKER-1")
    worker.wait_for_selector("#screen-signin:not([hidden])")
    worker.keyboard.type(badge_of(5))
    worker.keyboard.press("Enter")
    worker.wait_for_selector("#screen-items:not([hidden])")
    worker.select_option("[data-charge=cost_center]", "CC-200")  # the demo machines require a cost center from the list
    worker.click("[data-slot=A3]")  # VND-DRILL-8: cutting, under review, so an approver decides
    worker.click("#take")
    worker.wait_for_selector("#screen-result:not([hidden])", timeout=20000)
    result = worker.inner_text("#result-text")
    assert result.startswith("Done: 1 ×"), f"{result}: {worker.inner_text('#result-detail')}"
    if worker.is_visible("#logout"):
        worker.click("#logout")

    buyer = _login(browser, base, "buyer")
    row = _wait_for_row(buyer, base + "/procurement/?status=pending_approval", "VND-DRILL-8")
    assert "Waiting for approval" in row.inner_text() and "position" in row.inner_text()
    _shot(buyer, "queue-buyer")
    number = row.get_attribute("data-po")
    buyer.goto(f"{base}/procurement/po/{number}")
    assert buyer.locator("#approve").count() == 0 and buyer.locator("#submit").count() == 0
    assert "Waiting for level 1 of 1: a user with role approver" in buyer.inner_text("#next-approver")
    _shot(buyer, "po-buyer-waiting")

    approver = _login(browser, base, "approver")
    approver.goto(f"{base}/procurement/po/{number}")
    assert "CC-100 Maintenance" in approver.inner_text("#cost-center")
    assert "remaining" in approver.inner_text("#budget")
    assert approver.locator("[data-action=send], [data-action=edit_line], [data-action=submit]").count() == 0
    _shot(approver, "po-approver")
    approver.fill("#approve-comment", "needed on line 3")
    approver.click("#approve")
    assert approver.inner_text("#po-status") == "Approved"
    assert "Level 1: Approved by approver" in approver.inner_text("#approvals")
    assert approver.locator("#actions [data-action]").count() == 0  # an approved order is the buyer's now
    pdf_url = approver.get_attribute("#pdf-link", "href")
    pdf = approver.context.request.get(base + pdf_url)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"

    buyer.goto(f"{base}/procurement/po/{number}")
    _shot(buyer, "po-buyer-approved")
    before = len(capture.messages)
    buyer.click("#send")
    assert buyer.inner_text("#po-status") == "Sent to supplier"
    mails = [m for m in capture.messages[before:] if number in str(m["Subject"])]
    assert mails and [p.get_content_type() for p in mails[0].iter_attachments()] == ["application/pdf"]
    assert "E-mailed to the supplier by buyer" in buyer.inner_text("#history")

    buyer.goto(base + "/procurement/?status=")
    buyer.click("#run-replenish")
    buyer.wait_for_selector("#run-summary")
    assert "PRC-VISOR" in buyer.inner_text("#run-exceptions")  # the demo's item that no supplier sells
    _shot(buyer, "run-result")


def test_smoke_cross_domain_line_and_a_real_topic_espresense_message(
    running_demo: tuple[DemoContext, SmtpCapture],
) -> None:
    """What `vendtrack demo --smoke` prints as its cross-domain line, and tracking's real-topic step."""
    from tracking.demo import _get_json
    from tracking.espresense_smoke import espresense_step

    demo, _capture = running_demo
    result = cross_domain_smoke(demo)
    assert result.ok, result.detail
    assert "→ ItemDispensed →" in result.detail and "→ PDF → e-mail captured" in result.detail
    from core.db import unit_of_work
    from core.roles import TokenScope
    from core.users import create_token

    with unit_of_work(demo.services.session_factory) as session:
        token, _ = create_token(session, "esp-test", [TokenScope.READ], actor="test")
    step = espresense_step(demo, lambda path: _get_json(demo.base_url + path, token))
    assert step.ok, step.detail
    assert "espresense/devices/<id>/" in step.detail
