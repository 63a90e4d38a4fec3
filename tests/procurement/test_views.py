"""Procurement pages: the queue with reasons and totals, PO detail and actions, exports, suppliers, budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from core.models import Site
from core.roles import Role
from core.users import create_user
from procurement import orders, plugin, policy, secret_box, workflow
from procurement.models import PurchaseOrder, Supplier, SupplierProfile
from procurement.smtp_capture import SmtpCapture, free_port
from procurement.supplier_profiles import ProfileForm, save_profile
from procurement.suppliers import supplier_by_code
from tests.conftest import LiveServer, csrf_from, login
from tests.procurement.conftest import World, seed_world
from tests.procurement.test_transmit import message_id_of

GLOVE_NEED = policy.decide(policy.PolicyInput(policy.MIN_MAX, position=8, min_qty=10, max_qty=40))
GLOVE_REASON = policy.line_reason(GLOVE_NEED, policy.round_order(GLOVE_NEED.quantity, pack_qty=6))


def _setup(app: Flask) -> tuple[World, str]:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory, ManualClock(SystemClock().now()))
    with unit_of_work(factory) as s:
        create_user(s, "bob", "bob-password", [Role.PROCUREMENT, Role.APPROVER])
        create_user(s, "ann", "nna-password", [Role.APPROVER])
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, "GLOVE", 36, Decimal("9.20"), "user:bob", world.clock,
                        reason=GLOVE_REASON)  # fmt: skip
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        number = po.po_number
    return world, number


def _post(client: FlaskClient, page_url: str, action_url: str, data: dict[str, str] | None = None) -> Any:
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    return client.post(action_url, data={"csrf_token": token, **(data or {})})


def test_queue_shows_reasons_totals_and_filters(app: Flask, client: FlaskClient) -> None:
    _world, number = _setup(app)
    login(client, "ann", "nna-password")
    html = client.get("/procurement/").get_data(as_text=True)
    assert number in html and "position 8 &lt; min 10 → 32 → 36, pack of 6" in html
    assert "1 order · USD 357.70" in html  # 36 × 9.20 = 331.20 + 8 % tax
    assert number not in client.get("/procurement/?supplier=OMEGA").get_data(as_text=True)
    assert number not in client.get("/procurement/?min_total=1000").get_data(as_text=True)


def test_requester_is_refused_and_another_approver_approves(app: Flask, client: FlaskClient) -> None:
    _world, number = _setup(app)
    url = f"/procurement/po/{number}"
    login(client, "bob", "bob-password")
    refused = _post(client, url, url + "/approve")
    assert refused.status_code == 403 and "someone else must approve" in refused.get_data(as_text=True)
    other = app.test_client()
    login(other, "ann", "nna-password")
    assert _post(other, url, url + "/approve", {"comment": "fine"}).status_code == 302
    assert "Approved by ann on" in other.get(url).get_data(as_text=True)
    pdf = other.get(url + "/pdf?download=1")
    assert pdf.mimetype == "application/pdf" and "attachment" in pdf.headers["Content-Disposition"]
    refused = other.get(url + "/cxml")  # the site has no country yet: cXML addresses need one
    assert refused.status_code == 422 and "has no country" in refused.get_data(as_text=True)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        for site in s.scalars(select(Site)):
            site.country = "US"
    refused = other.get(url + "/cxml")  # no cXML identities in the supplier's profile yet
    assert refused.status_code == 422 and "has no cXML From identity" in refused.get_data(as_text=True)
    page = other.get(url).get_data(as_text=True)  # so the page offers setting them up, not a link to that refusal
    assert 'id="cxml-setup"' in page and "/suppliers/ACME/documents" in page and 'id="cxml-link"' not in page
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        supplier = s.scalar(select(Supplier.code).join(PurchaseOrder, PurchaseOrder.supplier_id == Supplier.id)
                            .where(PurchaseOrder.po_number == number))  # fmt: skip
        form = ProfileForm("DUNS", "123456789", "NetworkID", "AN0100", "DUNS", "123456789", "s3cret")
        save_profile(s, str(supplier), form, app.extensions["vendtrack"].settings.secret_key, "test", ManualClock(
            datetime(2026, 3, 2, tzinfo=UTC)))  # fmt: skip
    page = other.get(url).get_data(as_text=True)
    assert 'id="cxml-link"' in page and 'id="cxml-setup"' not in page
    cxml_body = other.get(url + "/cxml?with_secret=1")  # ann is an approver, not a buyer: no secret for her
    assert b"SharedSecret" not in cxml_body.get_data()
    assert b"<SharedSecret>s3cret</SharedSecret>" in client.get(url + "/cxml?with_secret=1").get_data()  # bob buys
    assert cxml_body.mimetype == "application/xml" and b'isoCountryCode="US"' in cxml_body.get_data()
    assert other.get(url + "/csv").get_data(as_text=True).count("\n") == 2
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:  # sealed under an earlier SECRET_KEY
        profile = s.scalar(select(SupplierProfile).join(Supplier).where(Supplier.code == supplier))
        assert profile is not None
        profile.shared_secret_enc = secret_box.seal("an-earlier-secret-key-of-this-site", "s3cret")
    assert client.get(url + "/cxml?with_secret=1").status_code == 409  # the export names the fix
    page = client.get(url)  # the PO page itself does not need the secret
    assert page.status_code == 200 and 'id="cxml-link"' in page.get_data(as_text=True)


def test_api_style_errors_name_the_field(app: Flask, client: FlaskClient) -> None:
    _setup(app)
    login(client, "bob", "bob-password")
    bad = {"cost_center": "CC-100", "period": "March", "amount": "5"}
    response = _post(client, "/procurement/budgets", "/procurement/budgets", bad)
    assert response.status_code == 422 and "must look like 2026-01" in response.get_data(as_text=True)
    response = _post(client, "/procurement/budgets", "/procurement/budgets",
                     {"cost_center": "CC-100", "period": "2026-03", "amount": "500", "mode": "stop"})  # fmt: skip
    assert response.status_code == 302
    assert "500.00" in client.get("/procurement/budgets").get_data(as_text=True)


@pytest.mark.sqlite_only
def test_suppliers_and_catalogue_import_pages(app: Flask, client: FlaskClient) -> None:
    _setup(app)
    login(client, "bob", "bob-password")
    html = client.get("/procurement/suppliers").get_data(as_text=True)
    assert "Acme &amp; Sons" in html
    csv_text = "supplier_code,sku,supplier_part_number,price_breaks\nACME,WIPE,AC-WP9,1:3.00\nACME,NOPE,X,1:1\n"
    response = _post(client, "/procurement/suppliers", "/procurement/suppliers/import", {"csv": csv_text})
    body = response.get_data(as_text=True)
    assert "1 created, 0 updated, 1 row(s) with errors." in body and "unknown SKU &#39;NOPE&#39;" in body


@pytest.mark.sqlite_only
def test_browser_approver_approves_and_requester_is_refused(app: Flask, live_server: LiveServer, page: Any) -> None:
    _world, number = _setup(app)

    def log_in(user: str) -> None:
        page.goto(live_server.url + "/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", f"{user[::-1]}-password")
        page.click("button[type=submit]")

    log_in("bob")
    page.goto(live_server.url + f"/procurement/po/{number}")
    assert page.locator("#approve").count() == 0  # the requester is not offered what the server refuses
    assert "Waiting for level 1 of 1: a user with role approver" in page.locator("#next-approver").inner_text()
    page.click("text=Log out")
    log_in("ann")
    page.goto(live_server.url + "/procurement/")
    row = page.locator(f"tr[data-po='{number}']")
    assert "pack of 6" in row.inner_text()
    row.locator("a").click()
    page.fill("#approve-comment", "ok for March")
    page.click("#approve")
    assert page.locator("#po-status").inner_text() == "Approved"
    assert "Approved by ann on" in page.locator("#approval-statement").inner_text()
    assert "ok for March" in page.locator("#history").inner_text()


def test_editing_an_approved_po_above_the_limit_sends_it_back(app: Flask, client: FlaskClient) -> None:
    _world, number = _setup(app)
    url = f"/procurement/po/{number}"
    approver = app.test_client()
    login(approver, "ann", "nna-password")
    _post(approver, url, url + "/approve")
    login(client, "bob", "bob-password")
    assert _post(client, url, url + "/lines/1", {"quantity": "48", "unit_price": "9.20"}).status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert 'data-status="pending_approval"' in html and "re-approval needed: total rose 33.3 %" in html
    assert _post(client, url, url + "/lines/1", {"quantity": "x", "unit_price": "1"}).status_code == 422


@pytest.mark.sqlite_only
def test_policy_and_rule_pages(app: Flask, client: FlaskClient) -> None:
    _setup(app)
    login(client, "bob", "bob-password")
    form = {"sku": "DRILL", "site": "PLANT1", "kind": "reorder_level", "reorder_level": "50", "reorder_qty": "20"}
    assert _post(client, "/procurement/policies", "/procurement/policies", form).status_code == 302
    html = client.get("/procurement/policies").get_data(as_text=True)
    assert "reorder at 50, qty 20" in html
    bad = {**form, "kind": "guess"}
    assert "unknown: use min_max" in _post(client, "/procurement/policies", "/procurement/policies", bad).get_data(
        as_text=True
    )
    rule = {"name": "big", "level": "2", "min_amount": "1000", "approver_role": "admin"}
    assert _post(client, "/procurement/policies", "/procurement/rules", rule).status_code == 403  # admins only
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        create_user(s, "root", "copper-kettle-41", [Role.ADMIN])
    admin = app.test_client()
    login(admin, "root", "copper-kettle-41")
    assert _post(admin, "/procurement/policies", "/procurement/rules", rule).status_code == 302
    assert "role admin" in admin.get("/procurement/policies").get_data(as_text=True)


def test_json_api_for_integrations(app: Flask) -> None:
    from core.roles import TokenScope
    from core.users import create_token

    _world, number = _setup(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        erp, _ = create_token(s, "erp", [TokenScope.ERP])
        gateway, _ = create_token(s, "gw", [TokenScope.GATEWAY])
    client = app.test_client()
    listed = client.get("/api/v1/procurement/purchase-orders?status=pending_approval",
                        headers={"Authorization": f"Bearer {erp}"}).get_json()  # fmt: skip
    assert [p["po_number"] for p in listed["purchase_orders"]] == [number] and listed["totals"] == {"USD": "357.70"}
    one = client.get(f"/api/v1/procurement/purchase-orders/{number}", headers={"Authorization": f"Bearer {erp}"})
    body = one.get_json()
    assert body["lines"][0]["reason"] == "position 8 < min 10 → 32 → 36, pack of 6"
    assert body["history"][-1]["text"] == "Submitted for approval by bob (draft → waiting for approval)"
    missing = client.get("/api/v1/procurement/purchase-orders/PO-9", headers={"Authorization": f"Bearer {erp}"})
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "po_number"
    denied = client.get("/api/v1/procurement/purchase-orders", headers={"Authorization": f"Bearer {gateway}"})
    assert denied.status_code in (401, 403)


def test_send_page_shows_the_queued_transmission_and_the_worker_delivers(database_url: str, tmp_path: Path) -> None:
    from web.app import create_app

    clock = ManualClock(SystemClock().now())
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "CLOCK": clock})  # fmt: skip
    _world, number = _setup(app)
    url = f"/procurement/po/{number}"
    approver = app.test_client()
    login(approver, "ann", "nna-password")
    _post(approver, url, url + "/approve")
    client = app.test_client()
    login(client, "bob", "bob-password")
    services = app.extensions["vendtrack"]
    services.settings.smtp_host, services.settings.smtp_port = "127.0.0.1", free_port()  # nobody listens
    assert 'id="send">E-mail to supplier' in client.get(url).get_data(as_text=True)
    response = _post(client, url, url + "/send")
    assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "not delivered (attempt 1): ConnectionRefusedError" in html and "tried again automatically at" in html
    assert 'data-status="queued"' in html and "1 of 8" in html and 'id="send">Send again now' in html
    assert f"{(clock.now() + timedelta(minutes=1)):%Y-%m-%d %H:%M:%S} UTC" in html
    assert _post(client, url, url + "/send").status_code == 302  # send again now: still down, a new series
    assert "1 of 8" in client.get(url).get_data(as_text=True)
    with SmtpCapture() as server:
        services.settings.smtp_host, services.settings.smtp_port = server.host, server.port
        plugin.transmit_step(services)
        assert server.messages == []  # not due yet
        clock.advance(minutes=1)
        plugin.transmit_step(services)
    assert len(server.messages) == 1
    html = client.get(url).get_data(as_text=True)
    assert 'data-status="sent"' in html and "Sent to supplier" in html
    assert message_id_of(server.messages[0]).strip("<>") in html
    assert "procurement-transmit" in [w.name for w in plugin.workers(services)]
