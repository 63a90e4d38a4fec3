"""Supplier catalogue CSV import: good rows kept, one error per bad row naming the field; the choice rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from core.db import unit_of_work
from procurement.catalog import import_catalog
from procurement.models import PriceBreak, SupplierItem
from procurement.suppliers import choose, load_offers
from tests.procurement.conftest import World

HEADER = (
    "supplier_code,sku,supplier_part_number,description,pack_qty,unit_of_measure,moq,order_multiple,"
    "lead_time_days,priority,valid_from,valid_to,price_breaks\n"
)
CSV = (
    HEADER
    + """OMEGA,GLOVE,OM-GL,"Gloves, nitrile",6,EA,12,1,5,10,2026-01-01,2026-12-31,1:9.50;100:8.00
OMEGA,NOPE,OM-X,,1,EA,1,1,5,0,,,1:1.00
OMEGA,WIPE,OM-WP,,zero,EA,1,1,5,0,,,1:1.00
OMEGA,WIPE,OM-WP2,,1,EA,1,1,5,0,2026-13-01,,1:1.00
OMEGA,WIPE,OM-WP3,,1,EA,1,1,5,0,,,1=1.00
ACME,GLOVE,AC-GL,,6,EA,1,1,3,10,,,1:10.00;50:9.00
"""
)


def test_import_keeps_good_rows_and_reports_each_bad_one(world: World) -> None:
    with unit_of_work(world.factory) as s:
        result = import_catalog(s, CSV, "user:bob")
    assert (result.created, result.updated) == (1, 1)
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "sku"), (4, "pack_qty"), (5, "valid_from"), (6, "price_breaks")
    ]  # fmt: skip
    assert "unknown SKU 'NOPE'" in result.errors[0].message and "YYYY-MM-DD" in result.errors[2].message
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(SupplierItem)) == 4
        assert s.scalar(select(func.count()).select_from(PriceBreak).join(SupplierItem).where(
            SupplierItem.supplier_part_number == "OM-GL")) == 2  # fmt: skip


def test_missing_header_column_is_one_clear_error(world: World) -> None:
    with unit_of_work(world.factory) as s:
        result = import_catalog(s, "supplier_code,sku\nACME,GLOVE\n", "user:bob")
    assert result.errors[0].field == "supplier_part_number" and result.created == 0


def test_choice_rule_valid_then_priority_then_best_break(world: World) -> None:
    with unit_of_work(world.factory) as s:
        import_catalog(s, CSV, "user:bob")
        offers = load_offers(s)[1]  # GLOVE: ACME (prio 10, 10.00 / 9.00 ≥ 50) and OMEGA (prio 10, 9.50 / 8.00 ≥ 100)
    in_year, later = date(2026, 3, 2), date(2027, 1, 5)
    assert choose(offers, 20, in_year).supplier_part_number == "OM-GL"  # type: ignore[union-attr]  # 9.50 < 10.00
    assert choose(offers, 60, in_year).supplier_part_number == "AC-GL"  # type: ignore[union-attr]  # 9.00 < 9.50
    assert choose(offers, 200, in_year).supplier_part_number == "OM-GL"  # type: ignore[union-attr]  # 8.00
    assert choose(offers, 200, later).supplier_part_number == "AC-GL"  # type: ignore[union-attr]  # OMEGA expired
    assert choose(offers, 200, in_year).price_for(200) == Decimal("8.00")  # type: ignore[union-attr]
