"""Procurement fixtures: a small world (site, items, suppliers with price breaks, policies) and a manual clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.events import Event, ItemDispensed, StockLevelChanged
from core.models import CostCenter, Item, Site
from core.outbox import ConsumerRegistry, Dispatcher, publish
from procurement import config
from procurement.models import SiteProcurementSettings, SupplierItem
from procurement.stock import handle_event
from procurement.suppliers import SupplierData, save_supplier, set_price_breaks

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    factory: sessionmaker[Session]
    clock: ManualClock
    site_id: int
    site_code: str = "PLANT1"

    def session(self) -> Session:
        return self.factory()

    def publish(self, *events: Event) -> None:
        with unit_of_work(self.factory) as s:
            for evt in events:
                publish(s, evt)

    def deliver(self) -> int:
        registry = ConsumerRegistry()
        registry.register("procurement.position", [ItemDispensed.event_type, StockLevelChanged.event_type],
                          handle_event)  # fmt: skip
        return Dispatcher(self.factory, registry, self.clock).drain().delivered

    def level(self, sku: str, on_hand: int) -> StockLevelChanged:
        return StockLevelChanged(occurred_at=self.clock.now(), site_code=self.site_code, sku=sku, on_hand=on_hand,
                                 min_level=0, max_level=0, low=True)  # fmt: skip

    def dispense(self, sku: str, qty: int) -> ItemDispensed:
        return ItemDispensed(occurred_at=self.clock.now(), site_code=self.site_code, sku=sku, quantity=qty,
                             worker="w1", machine="M1", slot="A1")  # fmt: skip


def add_offer(
    s: Session, supplier: str, sku: str, part: str, breaks: list[tuple[int, str]], pack: int = 1, moq: int = 1,
    priority: int = 0, lead: int = 7, multiple: int = 1, last_price: str | None = None,
) -> int:  # fmt: skip
    from procurement.models import Supplier

    sid = s.scalar(select(Supplier.id).where(Supplier.code == supplier))
    iid = s.scalar(select(Item.id).where(Item.sku == sku))
    row = SupplierItem(supplier_id=sid, item_id=iid, supplier_part_number=part, description=f"{sku} from {supplier}",
                       pack_qty=pack, unit_of_measure="EA", moq=moq, order_multiple=multiple, lead_time_days=lead,
                       priority=priority, last_price=Decimal(last_price) if last_price else None)  # fmt: skip
    s.add(row)
    s.flush()
    set_price_breaks(s, row.id, [(q, Decimal(p)) for q, p in breaks])
    return row.id


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    return seed_world(session_factory, ManualClock(START))


def seed_world(session_factory: sessionmaker[Session], clock: ManualClock) -> World:
    """Site PLANT1, cost center CC-100, items GLOVE/WIPE (consumables) and DRILL (cutting), ACME and OMEGA."""
    with unit_of_work(session_factory) as s:
        site = Site(code="PLANT1", name="Plant One", ship_to_address="Dock 2\n100 River Way\nSpringfield")
        s.add(site)
        s.flush()
        s.add(CostCenter(code="CC-100", name="Maintenance", site_id=site.id))
        s.add(SiteProcurementSettings(site_id=site.id, auto_approve_limit=Decimal("500"), tax_rate=Decimal("0.08")))
        for sku, cat in (("GLOVE", "consumables"), ("DRILL", "cutting"), ("WIPE", "consumables")):
            s.add(Item(sku=sku, name=f"{sku} item", category=cat, unit_of_measure="EA"))
        s.flush()
        save_supplier(s, SupplierData("ACME", "Acme & Sons", "orders@acme.example"), "test")
        save_supplier(s, SupplierData("OMEGA", "Omega Tools", "po@omega.example"), "test")
        add_offer(s, "ACME", "GLOVE", "AC-GL", [(1, "10.00"), (50, "9.00")], pack=6, priority=10, last_price="10.00")
        add_offer(s, "ACME", "WIPE", "AC-WP", [(1, "4.00")], pack=4, priority=10, last_price="4.00")
        add_offer(s, "OMEGA", "DRILL", "OM-DR", [(1, "3.00"), (100, "2.50")], pack=10, priority=10)
        for sku in ("GLOVE", "DRILL", "WIPE"):
            config.set_policy(s, config.PolicyData(sku, "PLANT1", "min_max", 10, 40, cost_center="CC-100"), "test",
                              clock)  # fmt: skip
        site_id = site.id
    return World(session_factory, clock, site_id)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests marked `sqlite_only` skip their PostgreSQL run (its database paths are tested elsewhere)."""
    for item in items:
        mine = "tests/procurement/" in item.nodeid and "[postgresql]" in item.nodeid
        if mine and item.get_closest_marker("sqlite_only") is not None:
            item.add_marker(pytest.mark.skip(reason="end-to-end flow: its SQL is covered on PostgreSQL elsewhere"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: run this database test on SQLite only")
