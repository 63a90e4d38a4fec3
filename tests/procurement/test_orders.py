"""PO state machine, approval rules and levels, segregation of duties, re-approval, budgets, receiving."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select

from core import notes
from core.audit import history
from core.db import unit_of_work
from core.errors import Conflict, DomainError, Forbidden, InvalidTransition
from core.events import PurchaseOrderStatusChanged, StockReceived
from core.outbox import OutboxEvent
from procurement import approval, config, orders, receiving, workflow
from procurement.approval import Approver
from procurement.models import PurchaseOrder, ReorderPolicy
from procurement.orders import TRANSITIONS
from procurement.suppliers import supplier_by_code
from tests.procurement.conftest import World

BOB = Approver("user:bob", "bob", frozenset({"procurement", "approver"}))
ANN = Approver("user:ann", "ann", frozenset({"approver"}))
ADA = Approver("user:ada", "ada", frozenset({"admin"}))


def _manual_po(world: World, qty: int = 10, price: str = "10.00", requester: str = "user:bob") -> str:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, requester, world.clock)
        po.cost_center_id = s.scalar(select(ReorderPolicy.cost_center_id).limit(1))
        orders.add_line(s, po, "GLOVE", qty, Decimal(price), requester, world.clock)
        return po.po_number


def _warnings(po: PurchaseOrder) -> str:
    """The order's stored warnings, in English."""
    return "\n".join(note.english() for note in notes.read(po.warnings))


def _status(world: World, number: str) -> str:
    with world.session() as s:
        return orders.get_po(s, number).status


def test_transition_table_is_explicit_and_illegal_moves_raise(world: World) -> None:
    assert TRANSITIONS["draft"] == {"pending_approval": "submit", "cancelled": "cancel"}
    assert TRANSITIONS["closed"] == {} and TRANSITIONS["cancelled"] == {}
    number = _manual_po(world)
    refused = pytest.raises(InvalidTransition, match=f"^purchase order {number} cannot go from draft to sent")
    with refused, unit_of_work(world.factory) as s:
        orders.transition(s, orders.get_po(s, number), "sent", "user:bob", world.clock)


def test_a_refusal_names_the_order_in_the_readers_language(world: World, app: Flask) -> None:
    number = _manual_po(world)
    refused = pytest.raises(InvalidTransition)
    with app.test_request_context("/"), force_locale("de"), world.session() as s, refused as german:
        orders.transition(s, orders.get_po(s, number), "sent", "user:bob", world.clock)
    assert german.value.message.startswith(f"Bestellung {number} kann nicht von „Entwurf“"), german.value.message
    refused = pytest.raises(InvalidTransition)
    with app.test_request_context("/"), force_locale("es"), world.session() as s, refused as spanish:
        orders.transition(s, orders.get_po(s, number), "sent", "user:bob", world.clock)
    assert spanish.value.message.startswith(f"el pedido de compra {number} no puede pasar"), spanish.value.message


def test_each_transition_audits_and_publishes(world: World) -> None:
    number = _manual_po(world)
    with unit_of_work(world.factory) as s:
        assert workflow.submit(s, number, "user:bob", world.clock) == "pending_approval"
    with world.session() as s:
        actions = [r.action for r in history(s, "purchase_order", number)]
        assert actions == ["po.create", "po.submit"]
        payloads = s.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == PurchaseOrderStatusChanged.event_type)).all()  # fmt: skip
        assert len(payloads) == 1 and '"to_status": "pending_approval"' in payloads[0] and '"108.00"' in payloads[0]


def test_requester_and_last_editor_never_approve(world: World) -> None:
    number = _manual_po(world, requester="user:bob")
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
    with pytest.raises(Forbidden, match="you requested"), unit_of_work(world.factory) as s:
        approval.approve(s, number, BOB, world.clock)
    with unit_of_work(world.factory) as s:
        workflow.edit_line(s, number, 1, 12, Decimal("10.00"), "user:ann", world.clock)
    with pytest.raises(Forbidden, match="you last edited"), unit_of_work(world.factory) as s:
        approval.approve(s, number, ANN, world.clock)
    with unit_of_work(world.factory) as s:
        assert (
            approval.approve(s, number, Approver("user:cy", "cy", frozenset({"approver"})), world.clock) == "approved"
        )


def test_levels_need_two_different_people_with_the_right_roles(world: World) -> None:
    with unit_of_work(world.factory) as s:
        config.add_rule(s, "all", 1, Decimal("0"), "test", approver_role="approver")
        config.add_rule(s, "big", 2, Decimal("1000"), "test", approver_role="admin")
        config.add_rule(s, "other site", 3, Decimal("0"), "test", approver_role="admin", category="cutting")
    number = _manual_po(world, qty=100, price="12.00")  # 1,296.00 with tax: levels 1 and 2
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
        assert orders.get_po(s, number).approval_levels == "1,2"
    with unit_of_work(world.factory) as s:
        assert approval.approve(s, number, ANN, world.clock) == "pending_approval"
    with pytest.raises(Forbidden, match="already approved"), unit_of_work(world.factory) as s:
        approval.approve(s, number, ANN, world.clock)
    with pytest.raises(Forbidden, match="level 2"), unit_of_work(world.factory) as s:
        approval.approve(s, number, Approver("user:cy", "cy", frozenset({"approver"})), world.clock)
    with unit_of_work(world.factory) as s:
        assert approval.approve(s, number, ADA, world.clock, "ok") == "approved"
        po = orders.get_po(s, number)
        assert po.approved_by == "user:ada" and po.approved_total == Decimal("1296.00")


def test_reject_needs_a_comment_and_revise_returns_to_draft(world: World) -> None:
    number = _manual_po(world)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
    with pytest.raises(DomainError, match="say why"), unit_of_work(world.factory) as s:
        approval.reject(s, number, ANN, world.clock, " ")
    with unit_of_work(world.factory) as s:
        approval.reject(s, number, ANN, world.clock, "wrong supplier")
        orders.revise(s, number, "user:bob", world.clock)
    assert _status(world, number) == "draft"


def test_reapproval_on_price_rise_or_supplier_change(world: World) -> None:
    number = _manual_po(world)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
        approval.approve(s, number, ANN, world.clock)
    with unit_of_work(world.factory) as s:
        workflow.edit_line(s, number, 1, 10, Decimal("10.50"), "user:bob", world.clock)  # +5 %: within 10 %
    assert _status(world, number) == "approved"
    with unit_of_work(world.factory) as s:
        workflow.edit_line(s, number, 1, 12, Decimal("10.50"), "user:bob", world.clock)  # +26 %
    assert _status(world, number) == "pending_approval"
    with unit_of_work(world.factory) as s:
        approval.approve(s, number, ANN, world.clock)
        workflow.change_supplier(s, number, "OMEGA", "user:bob", world.clock)
        assert "re-approval needed: supplier changed after approval" in _warnings(orders.get_po(s, number))
    assert _status(world, number) == "pending_approval"


def test_budget_stop_and_warn(world: World) -> None:
    period = world.clock.now().strftime("%Y-%m")
    with unit_of_work(world.factory) as s:
        config.set_budget(s, "CC-100", period, Decimal("150"), "stop", "test")
    first, second = _manual_po(world), _manual_po(world)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, first, "user:bob", world.clock)
        approval.approve(s, first, ANN, world.clock)  # 108 of 150 committed
    with pytest.raises(Conflict, match=r"exceeds USD 150\.00"), unit_of_work(world.factory) as s:
        workflow.submit(s, second, "user:bob", world.clock)
    with unit_of_work(world.factory) as s:
        config.set_budget(s, "CC-100", period, Decimal("150"), "warn", "test")
    with unit_of_work(world.factory) as s:
        workflow.submit(s, second, "user:bob", world.clock)
        assert "exceeds USD 150.00" in _warnings(orders.get_po(s, second))


def _sent_po(world: World, qty: int = 10) -> str:
    number = _manual_po(world, qty=qty)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
        approval.approve(s, number, ANN, world.clock)
        orders.transition(s, orders.get_po(s, number), "sent", "user:bob", world.clock)
    return number


def test_partial_receipt_backorder_tolerance_and_close_short(world: World) -> None:
    number = _sent_po(world, qty=100)
    with unit_of_work(world.factory) as s:
        assert receiving.receive(s, number, {1: 60}, "user:bob", world.clock) == "partly_received"
    with unit_of_work(world.factory) as s:
        po = orders.get_po(s, number)
        assert receiving.balances(s, po.id)[0].backorder == 40
    with pytest.raises(DomainError, match="only 45 more allowed"), unit_of_work(world.factory) as s:
        receiving.receive(s, number, {1: 46}, "user:bob", world.clock)  # 5 % tolerance
    with unit_of_work(world.factory) as s:
        receiving.receive(s, number, {1: 20}, "user:bob", world.clock)
        receiving.close_short(s, number, "supplier discontinued the size", "user:bob", world.clock)
    with world.session() as s:
        po = orders.get_po(s, number)
        assert po.status == "closed" and receiving.balances(s, po.id)[0].backorder == 0
        received = s.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == StockReceived.event_type))
        assert [('"quantity": 60' in p, '"quantity": 20' in p) for p in received] == [(True, False), (False, True)]


def test_full_receipt_then_close(world: World) -> None:
    number = _sent_po(world, qty=10)
    with unit_of_work(world.factory) as s:
        assert receiving.receive(s, number, {1: 10}, "user:bob", world.clock) == "received"
        orders.close(s, number, "user:bob", world.clock)
    assert _status(world, number) == "closed"
    with pytest.raises(Conflict, match="closed"), unit_of_work(world.factory) as s:
        receiving.receive(s, number, {1: 1}, "user:bob", world.clock)


def test_cancel_needs_reason(world: World) -> None:
    number = _manual_po(world)
    with pytest.raises(DomainError, match="why"), unit_of_work(world.factory) as s:
        orders.cancel(s, number, "user:bob", world.clock, "")
    with unit_of_work(world.factory) as s:
        orders.cancel(s, number, "user:bob", world.clock, "duplicate")
    with world.session() as s:
        assert s.scalar(select(PurchaseOrder.status)) == "cancelled"


def test_edit_while_pending_voids_the_approvals_given_so_far(world: World) -> None:
    with unit_of_work(world.factory) as s:
        config.add_rule(s, "all", 1, Decimal("0"), "test", approver_role="approver")
        config.add_rule(s, "all, second look", 2, Decimal("0"), "test", approver_role="admin")
    number = _manual_po(world)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, number, "user:bob", world.clock)
        assert approval.approve(s, number, ANN, world.clock) == "pending_approval"
        workflow.edit_line(s, number, 1, 11, Decimal("10.00"), "user:bob", world.clock)
    with unit_of_work(world.factory) as s:
        assert approval.approve(s, number, ANN, world.clock) == "pending_approval"  # level 1 again, new round
        assert approval.approve(s, number, ADA, world.clock) == "approved"
