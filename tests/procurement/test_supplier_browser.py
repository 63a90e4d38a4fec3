"""In a real headless Chromium: the supplier answers through the signed link (no account), and an approver
releases a held invoice with a reason. Set VENDTRACK_TEST_SCREENSHOTS=<dir> to keep the pages as pictures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer
from tests.procurement.supplier_world import make_loop
from tests.procurement.test_supplier_inbound import SIM
from tests.procurement.test_supplier_loop import send_po


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("VENDTRACK_TEST_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.sqlite_only
@pytest.mark.browser
def test_supplier_answers_through_the_link_and_an_approver_releases_a_held_invoice(
    app: Flask, live_server: LiveServer, page: Any
) -> None:
    loop = make_loop(app)
    order = SIM.read_order(send_po(loop, live_server.url))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(order.link)
    assert "Purchase order " + loop.po_number in page.locator("h1").inner_text()
    page.select_option("#action_2", "change")
    page.fill("#date_2", "2026-03-27")
    page.fill("#ack-comment", "drills ship a week later")
    _shot(page, "supplier-link-form")
    page.click("#ack-submit")
    assert "changes proposed: waiting for the buyer" in page.locator("#answer-status").inner_text()
    assert page.locator("#ack-done").is_visible() and page.locator("#ack-form").count() == 0
    _shot(page, "supplier-link-answered")

    assert "recorded: held" in SIM.post_cxml(live_server.url + "/supplier/cxml",
                                             SIM.invoice_cxml(loop.po_number, "INV-77", {1: (36, "9.90")})).body
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "nna-password")
    page.click("button[type=submit]")
    page.goto(live_server.url + "/procurement/invoices")
    row = page.locator("tr[data-status=held]")
    assert "line 1: price 9.90 is 7.6 % over the order's 9.20 (tolerance 2.0 %)" in row.inner_text()
    assert "36 invoiced but 0 received" in row.inner_text()
    _shot(page, "invoice-held")
    row.locator("input[name=comment]").fill("price list of March applies")
    row.locator("button[value=approve]").click()
    approved = page.locator("tr[data-status=approved]")
    assert "approved by ann: price list of March applies" in approved.inner_text()
    _shot(page, "invoice-approved")
