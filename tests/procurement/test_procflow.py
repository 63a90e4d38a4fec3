"""Each role's daily job on the procurement pages: ordering by phone with mail down, receiving, over-receipt kept
in the form, replenishment exceptions with their reasons and fixes, the run's result, budgets named by code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from core.models import CostCenter, Item
from core.roles import Role
from core.users import create_user
from procurement import approval, config, orders, workflow
from procurement.exceptions import exceptions
from procurement.models import PurchaseOrder, Supplier, SupplierItem
from procurement.smtp_capture import free_port
from procurement.suppliers import supplier_by_code
from tests.conftest import csrf_from, login
from tests.procurement.conftest import World, add_offer, seed_world


def _world(app: Flask) -> World:
    world = seed_world(app.extensions["vendtrack"].session_factory, ManualClock(SystemClock().now()))
    with unit_of_work(world.factory) as s:
        create_user(s, "bob", "bob-password", [Role.PROCUREMENT])
        create_user(s, "ann", "nna-password", [Role.APPROVER])
    return world


def _post(client: FlaskClient, url: str, action: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    token = csrf_from(client.get(url).get_data(as_text=True))
    response = client.post(f"{url}/{action}", data={"csrf_token": token, **(data or {})}, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def _run(client: FlaskClient) -> tuple[int, str]:
    """Press "Run replenishment now" on the queue and follow to the run's result page."""
    token = csrf_from(client.get("/procurement/").get_data(as_text=True))
    response = client.post("/procurement/replenish", data={"csrf_token": token}, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def _approved_po(world: World, quantity: int = 20) -> str:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, "GLOVE", quantity, Decimal("9.20"), "user:bob", world.clock)
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        approval.approve(s, po.po_number, approval.Approver("user:ann", "ann", frozenset({"approver"})), world.clock)
        return po.po_number


@pytest.mark.sqlite_only
def test_with_mail_down_the_buyer_marks_it_ordered_by_phone_and_receives(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    number = _approved_po(world)
    url = f"/procurement/po/{number}"
    app.extensions["vendtrack"].settings.smtp_port = free_port()  # nobody listens: the e-mail cannot go
    login(client, "bob", "bob-password")
    status, html = _post(client, url, "send")
    assert status == 200 and "not delivered (attempt 1)" in html and "mark it as ordered" in html
    assert 'data-action="receive"' not in html  # not placed with the supplier yet
    status, html = _post(client, url, "mark-ordered", {"channel": "nonsense"})
    assert status == 422 and "say how the order was placed: one of phone, portal, edi, email" in html
    assert 'id="order-channel" required class="invalid"' in html
    status, html = _post(client, url, "mark-ordered", {"channel": "phone", "reference": "r" * 100_000})
    assert status == 422 and "reference is at most 200 characters" in html
    assert 'name="reference" maxlength="200" class="invalid"' in html
    status, html = _post(client, url, "mark-ordered", {"channel": "phone", "reference": "call with Sam, ref 4471"})
    assert status == 200 and 'data-status="ordered"' in html and "by phone on" in html
    assert "Marked as ordered by bob (approved → ordered): placed by phone, supplier reference call with Sam" in html
    status, html = _post(client, url, "receive", {"line_1": "12", "note": "DN-100"})
    assert status == 200 and 'data-status="partly_received"' in html and "Receipt booked by bob: line 1: 12" in html
    status, html = _post(client, url, "receive", {"line_1": "8"})
    assert 'data-status="received"' in html


@pytest.mark.sqlite_only
def test_over_receipt_keeps_the_form_and_marks_the_field(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    number = _approved_po(world)
    with unit_of_work(world.factory) as s:
        orders.mark_ordered(s, number, "portal", "", "user:bob", world.clock)
    login(client, "bob", "bob-password")
    status, html = _post(client, f"/procurement/po/{number}", "receive", {"line_1": "37", "note": "DN-7 pallet 2"})
    assert status == 422
    assert "line 1: 37 received but only 21 more allowed (ordered 20, received 0, tolerance 5%)" in html
    assert 'value="37" class="invalid"' in html and 'value="DN-7 pallet 2"' in html
    assert 'id="receive-form"' in html  # the same page, the form still there to correct
    for hostile in ("1e400", "NaN", "\x00", "9" * 100_000, "-3"):
        status, html = _post(client, f"/procurement/po/{number}", "receive", {"line_1": hostile})
        marked = 'class="invalid"' in html or 'aria-invalid="true"' in html  # the view's mark or the input layer's
        assert status == 422 and marked and 'id="receive-form"' in html, hostile[:20]


def test_exceptions_name_the_reason_and_the_fix(app: Flask) -> None:
    world = _world(app)
    clock = world.clock
    with unit_of_work(world.factory) as s:
        for sku in ("CAP", "VEST", "BOOT", "MASK"):
            s.add(Item(sku=sku, name=f"{sku} item", category="ppe", unit_of_measure="EA"))
        s.flush()
        save_inactive = Supplier(code="GONE", name="Gone Ltd", email="x@gone.example", active=False)
        s.add(save_inactive)
        s.flush()
        add_offer(s, "GONE", "VEST", "G-V", [(1, "2.00")])
        add_offer(s, "ACME", "BOOT", "AC-B", [(1, "30.00")])
        s.execute(update(SupplierItem).where(SupplierItem.supplier_part_number == "AC-B")
                  .values(valid_to=clock.now().date() - timedelta(days=1)))  # fmt: skip
        add_offer(s, "ACME", "MASK", "AC-M", [])
        for sku in ("CAP", "VEST", "BOOT", "MASK"):
            config.set_policy(s, config.PolicyData(sku, "PLANT1", "min_max", 5, 20), "test", clock)
    world.publish(*(world.level(sku, 1) for sku in ("CAP", "VEST", "BOOT", "MASK")))
    world.deliver()
    with world.session() as s:
        found = {e.sku: e for e in exceptions(s, clock)}
    assert {sku: e.kind for sku, e in found.items()} == {
        "CAP": "no_supplier", "VEST": "supplier_inactive", "BOOT": "not_valid", "MASK": "no_price"}  # fmt: skip
    assert found["CAP"].reason == "CAP is 1 on hand (position 1), below 5, and no supplier lists it"
    assert found["VEST"].fix.endpoint == "procurement.supplier_view" and "GONE are inactive" in found["VEST"].reason
    assert f"valid only … – {clock.now().date() - timedelta(days=1)}" in found["BOOT"].reason
    assert "AC-M has no price" in found["MASK"].reason and found["MASK"].fix.text.startswith("Add a price break")


def test_budget_stop_is_an_exception_named_by_the_cost_center_code(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    clock = world.clock
    with unit_of_work(world.factory) as s:
        config.set_budget(s, "CC-100", clock.now().strftime("%Y-%m"), Decimal("50"), "stop", "test")
        config.set_review(s, "PLANT1", "consumables", False, "test")
    world.publish(world.level("GLOVE", 2))
    world.deliver()
    login(client, "bob", "bob-password")
    status, html = _run(client)
    assert status == 200 and "Replenishment run" in html
    assert "1 new draft order" in html and "1 stopped" in html
    period = clock.now().strftime("%Y-%m")
    assert f"budget CC-100 Maintenance {period}: committed USD 0.00 + this order" in html
    assert "cost center 1" not in html and 'data-kind="budget_stop"' in html and "Raise the budget" in html
    queue = client.get("/procurement/?status=draft").get_data(as_text=True)
    assert 'data-kind="budget_stop"' in queue and f"budget CC-100 Maintenance {period}" in queue
    item = client.get("/procurement/items/GLOVE").get_data(as_text=True)
    assert "Budget stop" in item and "AC-GL" in item
    with world.session() as s:
        cc = s.scalar(select(CostCenter.id).where(CostCenter.code == "CC-100"))
        po = s.scalar(select(PurchaseOrder).where(PurchaseOrder.cost_center_id == cc))
        assert po is not None and po.status == "draft"


def test_run_result_lists_new_drafts_auto_approved_and_waiting(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    world.publish(world.level("GLOVE", 8), world.level("DRILL", 3))  # GLOVE: 36 within max 40 and the limit
    world.deliver()
    login(client, "bob", "bob-password")
    status, html = _run(client)
    assert status == 200
    assert "2 new draft orders" in html and "1 auto-approved" in html and "1 waiting for approval" in html
    assert 'data-outcome="auto_approved"' in html and 'data-outcome="pending"' in html
    assert "review before order is on for cutting" in html  # the waiting one, as an exception with its reason
    again = client.post("/procurement/replenish", data={"csrf_token": csrf_from(html)}, follow_redirects=True)
    text = again.get_data(as_text=True)
    assert "0 new draft orders" in text and "No new lines: every item below its minimum is either" in text


def test_approver_sees_cost_center_budget_and_who_approves_next(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    with unit_of_work(world.factory) as s:
        config.set_budget(s, "CC-100", world.clock.now().strftime("%Y-%m"), Decimal("1000"), "warn", "test")
        config.add_rule(s, "all", 1, Decimal("0"), "test", approver_role="approver")
        config.add_rule(s, "big", 2, Decimal("100"), "test", approver_user="carol")
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock,
                           cost_center_id=s.scalar(select(CostCenter.id)))  # fmt: skip
        orders.add_line(s, po, "GLOVE", 20, Decimal("9.20"), "user:bob", world.clock)
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        number = po.po_number
    login(client, "ann", "nna-password")
    url = f"/procurement/po/{number}"
    html = client.get(url).get_data(as_text=True)
    assert "CC-100 Maintenance" in html and "Waiting for level 1 of 2: a user with role approver." in html
    assert "used 0.00 · remaining 1000.00 · <strong>after this order 801.28</strong>" in " ".join(html.split())
    _status, html = _post(client, url, "approve", {"comment": "ok"})
    assert "Waiting for level 2 of 2: user carol." in html and "Level 1: Approved by ann" in html
    assert 'data-action="approve"' not in html  # ann approved level 1; level 2 is carol's


def test_auto_approval_shows_in_the_approvals_section(app: Flask, client: FlaskClient) -> None:
    world = _world(app)
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    world.publish(world.level("GLOVE", 8))
    world.deliver()
    login(client, "bob", "bob-password")
    _run(client)
    with world.session() as s:
        number = s.scalar(select(PurchaseOrder.po_number).where(PurchaseOrder.status == "approved"))
    html = client.get(f"/procurement/po/{number}").get_data(as_text=True)
    assert "Approved by automatic approval on" in html and "No approvals yet" not in html
    assert "Created as draft by bob" in html and "Replenishment run by bob: 1 line added" in html
    assert "{&#39;" not in html and "{'" not in html  # no Python dicts in the history


def test_queue_filters_refuse_hostile_values(app: Flask, client: FlaskClient) -> None:
    _world(app)
    login(client, "bob", "bob-password")
    for query, field in (("status=bogus", "status"), ("min_total=NaN", "min_total"),
                         ("min_total=1e400", "min_total"), ("min_total=%00", "min_total")):  # fmt: skip
        response = client.get(f"/procurement/?{query}")
        assert 400 <= response.status_code < 500 and field in response.get_data(as_text=True), query
    assert client.get("/procurement/items/" + "X" * 5000).status_code == 404
    assert client.get("/procurement/replenish/runs/zzz").status_code == 404
    page = client.get("/procurement/?status=pending_approval").get_data(as_text=True)
    assert ">Waiting for approval</option>" in page and "pending_approval</option>" not in page


def test_state_table_has_a_check_constraint(app: Flask) -> None:
    world = _world(app)
    number = _approved_po(world)
    with pytest.raises(Exception, match=r"(?i)check|constraint"), unit_of_work(world.factory) as s:
        s.execute(update(PurchaseOrder).where(PurchaseOrder.po_number == number).values(status="shipped"))
