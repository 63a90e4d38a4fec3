"""Restock by scan: GS1 labels (bracketed and raw), bare GTINs and SKUs into a slot; wrong items, expired lots and
unreadable scans refused with the reason and nothing recorded.

Labels are built from published GS1 example identifiers: GTIN 09506000134352 with batch ABC123, the running
example of the GS1 Digital Link Standard (id.gs1.org/01/09506000134352/10/ABC123), and GS1's demonstration
GTIN 09521234543213 (GS1 company prefix 952 is reserved for examples; the GS1 Barcode Syntax Resource uses it).
GTIN 09520123456788 with batch ABC1 and expiry 180426 is the GS1 Digital Link Standard's URI syntax example.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import DomainError
from core.models import Item
from tests.vending.conftest import World
from vending import ledger, restock_scan
from vending.models import LedgerEntry, LedgerLot, SlotLot

TODAY = date(2026, 3, 2)
GLOVES_GTIN, EARPLUGS_GTIN, DRILL_GTIN = "09506000134352", "09521234543213", "09520123456788"


@pytest.fixture
def labelled(session_factory: sessionmaker[Session], world: World, clock: ManualClock) -> World:
    with unit_of_work(session_factory) as s:
        for sku, gtin in (("GLV-1", GLOVES_GTIN), ("EAR-1", EARPLUGS_GTIN), ("DRL-8", DRILL_GTIN)):
            item = s.scalar(select(Item).where(Item.sku == sku))
            assert item is not None
            item.gtin = gtin
        for code in ("A1", "A2", "A3"):  # make room: each slot holds 5 of 5
            ledger.post(s, slot_id=world.slots[code], kind="issue", quantity=-4, key=f"use:{code}", at=clock.now())
    return world


def _fill(s: Session, world: World, slot: str, scan: str, quantity: int | None = None, key: str = "k") -> int:
    filled = restock_scan.fill_by_scan(
        s, world.machine_id, slot, scan, quantity, key=key, now=ManualClock().now(), today=TODAY
    )
    return filled.added


def _recorded(s: Session) -> tuple[int, int]:
    return (
        int(s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "restock")) or 0),
        int(s.scalar(select(func.count()).select_from(SlotLot)) or 0),
    )


def test_gs1_labels_fill_the_slot_with_their_lot(session_factory: sessionmaker[Session], labelled: World) -> None:
    with unit_of_work(session_factory) as s:
        assert _fill(s, labelled, "A1", f"(01){GLOVES_GTIN}(17)270630(10)ABC123(30)2", key="k1") == 2  # label's count
        raw = f"]d201{GLOVES_GTIN}1727063010ABC123\x1d371"  # the same lot as a DataMatrix sends it, (37) count 1
        assert _fill(s, labelled, "A1", raw, key="k2") == 1
        assert _fill(s, labelled, "A1", f"(01){GLOVES_GTIN}(10)ABC124", quantity=1, key="k3") == 1  # asked: 1
    with session_factory() as s:
        lots = s.execute(select(SlotLot.lot, SlotLot.expiry, SlotLot.quantity).order_by(SlotLot.id)).all()
        assert lots == [("ABC123", date(2027, 6, 30), 3), ("ABC124", None, 1)]
        entry = s.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key == "k1")).one()
        assert (entry.kind, entry.quantity, entry.on_hand_after) == ("restock", 2, 3)
        assert notes.english(entry.reason) == f"restock; scanned GTIN {GLOVES_GTIN}; lot ABC123, expiry 2027-06-30"
        assert s.scalar(select(LedgerLot.quantity).where(LedgerLot.ledger_id == entry.id)) == 2
        assert ledger.on_hand(s, labelled.slots["A1"]) == 5


def test_a_bare_gtin_or_the_sku_fills_without_a_lot(session_factory: sessionmaker[Session], labelled: World) -> None:
    with unit_of_work(session_factory) as s:
        assert _fill(s, labelled, "A3", "9521234543213", quantity=2, key="ean13") == 2  # GTIN-13 form of the GTIN
        assert _fill(s, labelled, "A2", "drl-8", key="sku") == 4  # no count on it: the pick quantity (max 5 - 1)
    with session_factory() as s:
        assert ledger.on_hand(s, labelled.slots["A3"]) == 3 and ledger.on_hand(s, labelled.slots["A2"]) == 5
        assert _recorded(s) == (5, 0)  # 3 seed fills + 2 scans; no lots


def test_a_label_for_another_item_is_refused_naming_both(
    session_factory: sessionmaker[Session], labelled: World
) -> None:
    with unit_of_work(session_factory) as s:
        before = _recorded(s)
        with pytest.raises(DomainError) as wrong:
            _fill(s, labelled, "A1", f"(01){EARPLUGS_GTIN}(17)270630(10)EP-7(30)4")
        assert wrong.value.field == "scan" and wrong.value.code == "wrong_item"
        assert wrong.value.message == (
            f"scanned GTIN {EARPLUGS_GTIN} = Ear plugs; slot A1 holds Gloves: put it in slot A3"
        )
        with pytest.raises(DomainError, match="scanned SKU DRL-8 = Drill bit 8 mm; slot A3 holds Ear plugs"):
            _fill(s, labelled, "A3", "DRL-8")
        assert _recorded(s) == before


@pytest.mark.parametrize(
    ("scan", "said"),
    [
        (f"(01){DRILL_GTIN}(10)ABC1(21)12345(17)180426", "lot ABC1 on this label expired on 2018-04-26"),
        ("(01)09521234543214", "wrong check digit (expected 3)"),
        ("(01)0952123454321", "exactly 14 characters"),
        (f"(01){DRILL_GTIN}(17)181341", "month 13 does not exist"),
        ("(10)ABC1", "the label has no GTIN (01)"),
        ("04012345000009", "GTIN 04012345000009 is no item we know"),
        ("NO-SUCH-SKU", "'NO-SUCH-SKU' is no item we know"),
        ("   ", "scan the label, or type the item's GTIN or SKU"),
    ],
)
def test_unusable_scans_say_what_is_wrong(
    session_factory: sessionmaker[Session], labelled: World, scan: str, said: str
) -> None:
    with unit_of_work(session_factory) as s:
        before = _recorded(s)
        with pytest.raises(DomainError) as refused:
            _fill(s, labelled, "A2", scan)
        assert said in refused.value.message and refused.value.field == "scan"
        assert _recorded(s) == before
