"""Equipment purchase requests (procurement.equipment): an EquipmentShortfall becomes a submitted system PO that
the approval rules judge, once per event; without a catalogue item the request waits with the problem named."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import func, select

from core import notes
from core.db import unit_of_work
from core.errors import DomainError, InvalidTransition
from core.events import EquipmentShortfall
from core.models import Item
from core.outbox import ConsumerRegistry, Dispatcher
from procurement import approval, config, equipment
from procurement.models import EquipmentRequest, PurchaseOrder, PurchaseOrderLine
from procurement.orders import APPROVED, PENDING
from tests.procurement.conftest import World, add_offer
from tests.support import read_in

REASON = "ICU below PAR (2 of 6) for 3 days; site total 5 of 8 needed; after the suggested moves (move 1 from " \
         "Ward B to ICU) 3 infusion pumps still short"  # fmt: skip


def _shortfall(world: World, quantity: int = 3) -> EquipmentShortfall:
    return EquipmentShortfall(occurred_at=world.clock.now(), site_code=world.site_code, asset_type="infusion_pump",
                              type_label="Infusion pump", quantity=quantity, reason=REASON)  # fmt: skip


def _deliver(world: World) -> int:
    registry = ConsumerRegistry()
    registry.register(equipment.CONSUMER, equipment.EVENT_TYPES, partial(equipment.handle_event, clock=world.clock))
    return Dispatcher(world.factory, registry, world.clock).drain().delivered


def _pump_item(world: World, price: str = "120.00", last_price: str | None = None) -> None:
    with unit_of_work(world.factory) as s:
        s.add(Item(sku="PUMP", name="Infusion pump", category="equipment", unit_of_measure="EA",
                   asset_type="infusion_pump"))  # fmt: skip
        s.flush()
        add_offer(s, "ACME", "PUMP", "AC-PUMP", [(1, price)], last_price=last_price)


def _requests(world: World) -> list[tuple[str, str, str]]:
    with world.session() as s:
        rows = s.execute(select(EquipmentRequest.status, EquipmentRequest.po_number, EquipmentRequest.problem))
        return [(status, po, notes.english(problem)) for status, po, problem in rows]


def _po(world: World, po_number: str) -> tuple[str, str, str, list[tuple[int, str]]]:
    with world.session() as s:
        po = s.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == po_number))
        assert po is not None
        lines = s.execute(select(PurchaseOrderLine.quantity, PurchaseOrderLine.reason)
                          .where(PurchaseOrderLine.po_id == po.id)).all()  # fmt: skip
        return po.status, po.requester, po.warnings, [(q, notes.english(r)) for q, r in lines]


def test_a_shortfall_becomes_a_submitted_order_an_approver_reviews(world: World) -> None:
    _pump_item(world)  # no previous price and review on for "equipment": not auto-approved
    world.publish(_shortfall(world))
    assert _deliver(world) == 1
    ((status, po_number, problem),) = _requests(world)
    assert (status, problem) == ("ordered", "")
    po_status, requester, warnings, lines = _po(world, po_number)
    assert (po_status, requester) == (PENDING, "system:par")
    assert lines == [(3, f"equipment shortfall: {REASON}")]
    assert "auto-approval not applied" in warnings
    with unit_of_work(world.factory) as s:
        who = approval.Approver("user:ann", "ann", frozenset({"approver"}))
        assert approval.approve(s, po_number, who, world.clock, "three pumps") == APPROVED


def test_within_policy_it_is_auto_approved(world: World) -> None:
    _pump_item(world, price="120.00", last_price="120.00")
    with unit_of_work(world.factory) as s:
        config.set_review(s, world.site_code, "equipment", False, "test")
    world.publish(_shortfall(world, quantity=2))  # 240 + tax, under the 500 auto-approval limit
    _deliver(world)
    ((_status, po_number, _problem),) = _requests(world)
    with world.session() as s:
        po = s.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == po_number))
        assert po is not None and (po.status, po.approved_by) == (APPROVED, approval.AUTO_APPROVER)
    world.publish(_shortfall(world, quantity=5))  # 600: over the limit, so an approver reviews it
    _deliver(world)
    with world.session() as s:
        statuses = s.scalars(select(PurchaseOrder.status).order_by(PurchaseOrder.id)).all()
    assert list(statuses) == [APPROVED, PENDING]


def test_a_redelivered_event_makes_no_second_request(world: World) -> None:
    _pump_item(world)
    event = _shortfall(world)
    world.publish(event)
    assert _deliver(world) == 1 and _deliver(world) == 0
    with unit_of_work(world.factory) as s:  # delivered again (as after a lost marker): the event id guards
        equipment.handle_event(s, event, world.clock)
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(EquipmentRequest)) == 1
        assert s.scalar(select(func.count()).select_from(PurchaseOrderLine)) == 1


def test_without_a_catalogue_item_it_waits_with_the_problem_then_a_buyer_orders_it(world: World) -> None:
    world.publish(_shortfall(world))
    _deliver(world)
    ((status, po_number, problem),) = _requests(world)
    assert (status, po_number) == ("open", "")
    assert "no catalogue item is bought as asset type 'infusion_pump'" in problem
    with world.session() as s:
        stored = s.scalar(select(EquipmentRequest.problem))
    with read_in("de"):
        assert notes.shown(stored).startswith("kein Katalogartikel wird als Gerätetyp 'infusion_pump' gekauft")
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
        request_id = s.scalar(select(EquipmentRequest.id))
    assert request_id is not None
    _pump_item(world)
    with unit_of_work(world.factory) as s:
        number = equipment.order(s, request_id, "user:bob", world.clock)
    po_status, requester, _warnings, _lines = _po(world, number)
    assert (po_status, requester) == (PENDING, "user:bob")
    with unit_of_work(world.factory) as s, pytest.raises(DomainError, match="someone else must approve"):
        who = approval.Approver("user:bob", "bob", frozenset({"approver", "procurement"}))
        approval.approve(s, number, who, world.clock)  # the buyer who ordered it never approves it
    with unit_of_work(world.factory) as s, pytest.raises(InvalidTransition):
        equipment.dismiss(s, request_id, "changed my mind", "user:bob", world.clock)


def test_a_hard_budget_stop_leaves_the_request_open_with_the_reason(world: World) -> None:
    _pump_item(world, price="9000.00")
    with unit_of_work(world.factory) as s:
        pump = s.scalar(select(Item).where(Item.sku == "PUMP"))
        assert pump is not None
        config.set_policy(s, config.PolicyData("PUMP", "PLANT1", "min_max", 0, 1, cost_center="CC-100"), "test",
                          world.clock)  # fmt: skip
        config.set_budget(s, "CC-100", world.clock.now().strftime("%Y-%m"), Decimal("1000"), "stop", "test")
    world.publish(_shortfall(world))
    _deliver(world)
    ((status, _po, problem),) = _requests(world)
    assert status == "open" and "budget" in problem and "stop" in problem
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 0  # the savepoint took the PO back


def test_dismiss_needs_a_note(world: World) -> None:
    world.publish(_shortfall(world))
    _deliver(world)
    with world.session() as s:
        request_id = s.scalar(select(EquipmentRequest.id))
    assert request_id is not None
    with unit_of_work(world.factory) as s, pytest.raises(DomainError, match="say why"):
        equipment.dismiss(s, request_id, "   ", "user:bob", world.clock)
    with unit_of_work(world.factory) as s:
        equipment.dismiss(s, request_id, "two pumps back from repair", "user:bob", world.clock)
    assert _requests(world)[0][0] == "dismissed"
