"""Which token may post which event: the table in core.event_scope, checked case by case (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.event_scope import EDGE_EVENTS, MACHINE_EVENTS, Binding, check
from core.events import AssetMoved, Event, ItemDispensed, ItemRequested, StockLevelChanged, ToolOverdue

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MACHINES = {"L1": "S1", "C1": "S1", "L2": "S2"}
KIOSK_C1 = Binding(frozenset({"device"}), "S1", "C1")
EDGE_S1 = Binding(frozenset({"edge"}), "S1", None)


def _dispensed(machine: str, site: str) -> ItemDispensed:
    return ItemDispensed(occurred_at=NOW, site_code=site, sku="G", quantity=1, worker="W1", machine=machine, slot="A1")


def _code(binding: Binding, evt: Event) -> str | None:
    refused = check(binding, evt, MACHINES.get)
    return refused.code if refused else None


@pytest.mark.parametrize(
    ("binding", "evt", "code"),
    [
        (KIOSK_C1, _dispensed("C1", "S1"), None),
        (KIOSK_C1, ItemRequested(occurred_at=NOW, site_code="S1", machine="C1", worker="W", description="x"), None),
        (KIOSK_C1, _dispensed("L1", "S1"), "wrong_machine"),
        (KIOSK_C1, _dispensed("C1", "S2"), "wrong_site"),
        (
            KIOSK_C1,
            StockLevelChanged(occurred_at=NOW, site_code="S1", sku="G", on_hand=1, min_level=1, max_level=2, low=False),
            "event_type_not_allowed",
        ),
        (Binding(frozenset({"device"}), "S1", None), _dispensed("C1", "S1"), "token_not_bound"),
        (EDGE_S1, _dispensed("L1", "S1"), None),
        (EDGE_S1, ToolOverdue(occurred_at=NOW, site_code="S1", serial="T", sku="G", worker="W", due_at=NOW), None),
        (EDGE_S1, _dispensed("L2", "S2"), "wrong_site"),
        (EDGE_S1, _dispensed("L2", "S1"), "wrong_machine"),
        (EDGE_S1, _dispensed("ZZ", "S1"), None),  # a machine configured on the edge only
        (
            EDGE_S1,
            AssetMoved(occurred_at=NOW, asset_tag="P", from_zone=None, to_zone="Z", confidence=1.0, reason="r"),
            "event_type_not_allowed",
        ),
        (Binding(frozenset({"edge"}), None, None), _dispensed("L1", "S1"), "token_not_bound"),
        (Binding(frozenset({"gateway", "read"}), "S1", None), _dispensed("L1", "S1"), "event_type_not_allowed"),
    ],
)
def test_each_scope_posts_only_what_it_is_bound_to(binding: Binding, evt: Event, code: str | None) -> None:
    assert _code(binding, evt) == code


def test_a_device_posts_a_subset_of_what_an_edge_posts() -> None:
    assert MACHINE_EVENTS < EDGE_EVENTS
