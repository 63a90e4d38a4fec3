import contextlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import (
    EventFormatError,
    ItemDispensed,
    PurchaseOrderStatusChanged,
    from_json,
    registered_event_types,
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_round_trip_keeps_types() -> None:
    evt = ItemDispensed(
        occurred_at=NOW,
        site_code="S1",
        sku="GLV-9",
        quantity=2,
        worker="W7",
        machine="M1",
        slot="A3",
        charge_codes={"job": "J-12"},
    )
    back = from_json(evt.to_json())
    assert back == evt
    po = PurchaseOrderStatusChanged(
        occurred_at=NOW,
        po_number="PO-1",
        from_status="draft",
        to_status="approved",
        actor="user:ann",
        total=Decimal("12.3400"),
        currency="EUR",
    )
    again = from_json(po.to_json())
    assert isinstance(again, PurchaseOrderStatusChanged) and again.total == Decimal("12.3400")


def test_every_event_type_is_registered() -> None:
    assert {
        "vending.item_dispensed",
        "vending.stock_level_changed",
        "procurement.stock_received",
        "tracking.asset_moved",
    } <= set(registered_event_types())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not readable"),
        ('{"type": "nope", "version": 1, "data": {}}', "unknown event type"),
        ('{"type": "vending.item_dispensed", "version": 9, "data": {}}', "version 9"),
        (
            '{"type": "vending.item_dispensed", "version": 1, "data": {"occurred_at": "2026-01-01T00:00:00+00:00"}}',
            "field 'site_code' is missing",
        ),
    ],
)
def test_bad_payloads_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(EventFormatError, match=message):
        from_json(text)


def test_wrongly_typed_quantity_is_refused() -> None:
    good = ItemDispensed(occurred_at=NOW, site_code="S", sku="X", quantity=1, worker="w", machine="m", slot="s")
    bad = good.to_json().replace('"quantity": 1', '"quantity": "lots"')
    with pytest.raises(EventFormatError, match="quantity"):
        from_json(bad)


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_event_format_error(text: str) -> None:
    with contextlib.suppress(EventFormatError):
        from_json(text)
