"""Receiving by scan: supplier labels (GS1 with pack or unit GTIN, or a part number) matched to open PO lines.

GTIN 09521234543213 is GS1's documentation example; EAN-13 4006381333931 the classic check-digit example.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import DomainError
from core.events import StockReceived
from core.models import Item
from core.outbox import OutboxEvent
from procurement import orders, scan_receiving
from procurement.models import PurchaseOrderLine, Receipt, SupplierItem
from tests.conftest import login
from tests.procurement.conftest import World
from tests.procurement.test_orders import _sent_po
from tests.procurement.test_views import _post, _setup

PACK_GTIN = "09521234543213"
UNIT_GTIN = "04006381333931"


def _label_gtins(world: World) -> None:
    with unit_of_work(world.factory) as s:
        glove = s.scalar(select(Item.id).where(Item.sku == "GLOVE"))
        s.execute(SupplierItem.__table__.update().where(SupplierItem.item_id == glove).values(gtin=PACK_GTIN))
        s.execute(Item.__table__.update().where(Item.id == glove).values(gtin=UNIT_GTIN))


def test_pack_label_books_count_times_pack_with_lot_and_expiry(world: World) -> None:
    number = _sent_po(world, qty=36)
    _label_gtins(world)
    expiry = (world.clock.now() + timedelta(days=400)).date()
    scan = f"]d201{PACK_GTIN}17{expiry:%y%m%d}10LOT-7\x1d372"
    with unit_of_work(world.factory) as s:
        found, status = scan_receiving.receive_scan(s, number, scan, "user:bob", world.clock)
    assert (found.line_number, found.quantity, found.lot.lot, found.lot.expiry) == (1, 12, "LOT-7", expiry)
    assert found.reason == "pack GTIN 09521234543213 is line 1 (GLOVE), 6 per pack"
    assert status == "partly_received"
    with world.session() as s:
        receipt = s.scalars(select(Receipt)).one()
        assert (receipt.quantity, receipt.lot, receipt.expiry) == (12, "LOT-7", expiry)
        payload = json.loads(s.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == StockReceived.event_type)).one())  # fmt: skip
        data = payload.get("data", payload)
        assert (data["lot"], data["expiry"], data["quantity"]) == ("LOT-7", expiry.isoformat(), 12)


def test_unit_gtin_and_part_number_scans(world: World) -> None:
    number = _sent_po(world, qty=36)
    _label_gtins(world)
    with unit_of_work(world.factory) as s:
        found, _ = scan_receiving.receive_scan(s, number, "4006381333931", "user:bob", world.clock)
        assert (found.quantity, found.reason) == (1, "unit GTIN 04006381333931 is line 1 (GLOVE)")  # bare EAN-13
    with unit_of_work(world.factory) as s:
        found, _ = scan_receiving.receive_scan(s, number, f"(01){UNIT_GTIN}(37)5", "user:bob", world.clock)
        assert (found.quantity, found.reason) == (5, "unit GTIN 04006381333931 is line 1 (GLOVE)")
        found, _ = scan_receiving.receive_scan(s, number, "ac-gl", "user:bob", world.clock)
        assert found.quantity == 6 and "supplier part number AC-GL" in found.reason
        line = s.scalars(select(PurchaseOrderLine)).one()
        assert line.received_qty == 1 + 5 + 6


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("(01)09521234543213(17)200101(10)OLD", "expired on 2020-01-01"),
        ("(01)00012345600012", "GTIN 00012345600012 matches no open line"),
        ("NOPE-1", "part number 'NOPE-1' matches no open line"),
        ("(01)09521234543213(37)0", "count 0 is outside"),
        ("(01)09521234543214", "wrong check digit"),
        ("   ", "scan a label"),
    ],
)
def test_refused_scans_book_nothing_and_say_why(world: World, scan: str, message: str) -> None:
    number = _sent_po(world, qty=36)
    _label_gtins(world)
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")) as refused, \
            unit_of_work(world.factory) as s:  # fmt: skip
        scan_receiving.receive_scan(s, number, scan, "user:bob", world.clock)
    assert refused.value.field == "scan"
    with world.session() as s:
        assert s.scalars(select(Receipt)).all() == []


def test_scan_form_books_a_label_with_group_separators(app: Flask, client: FlaskClient) -> None:
    world, number = _setup(app)
    with unit_of_work(world.factory) as s:
        po = orders.get_po(s, number)
        po.status = "sent"  # the approval flow is tested elsewhere; here the order is out with the supplier
    _label_gtins(world)
    login(client, "bob", "bob-password")
    page = f"/procurement/po/{number}"
    assert 'id="receive-scan"' in client.get(page).get_data(as_text=True)
    answer = _post(client, page, f"{page}/receive-scan", {"scan": f"01{PACK_GTIN}10L1\x1d373"})
    assert answer.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "18 × GLOVE booked on line 1, lot L1 (pack GTIN 09521234543213 is line 1 (GLOVE), 6 per pack)" in html
    refused = _post(client, page, f"{page}/receive-scan", {"scan": "NOPE-1"})
    assert refused.status_code == 422 and "matches no open line" in refused.get_data(as_text=True)
    nul = _post(client, page, f"{page}/receive-scan", {"scan": "01\x00"})
    assert nul.status_code == 422 and "NUL" in nul.get_data(as_text=True)
    with world.session() as s:
        assert s.scalars(select(PurchaseOrderLine.received_qty)).one() == 18
