"""Restock mode: a pick list from slots below max, counts flagged when they differ, fills in the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import DomainError
from tests.vending.conftest import World
from vending import ledger, restock
from vending.lots import LotRef
from vending.models import LedgerEntry, SlotLot


def test_pick_list_count_and_fill(session_factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with unit_of_work(session_factory) as s:
        ledger.post(s, slot_id=world.slots["A1"], kind="issue", quantity=-3, key="use", at=clock.now())
        lines = restock.pick_list(s, world.machine_id)
        assert [(p.slot_code, p.on_hand, p.to_pick) for p in lines] == [("A1", 2, 3)]
        count = restock.record_count(s, world.machine_id, "A1", 1, key="c1", now=clock.now())
        assert (count.expected, count.counted, count.difference, count.flagged) == (2, 1, -1, True)
        same = restock.record_count(s, world.machine_id, "A2", 5, key="c2", now=clock.now())
        assert not same.flagged
        assert restock.record_fill(s, world.machine_id, "A1", 4, key="f1", now=clock.now()) == 5
        with pytest.raises(DomainError, match="holds at most 5"):
            restock.record_fill(s, world.machine_id, "A1", 1, key="f2", now=clock.now())
        assert restock.pick_list(s, world.machine_id) == []
    with session_factory() as s:
        flagged = s.scalars(select(LedgerEntry).where(LedgerEntry.flagged.is_(True))).all()
        found = [(e.kind, e.quantity, notes.english(e.reason)) for e in flagged]
        assert found == [("count", -1, "counted 1, expected 2")]


def test_expired_lots_leave_the_level_and_only_they_are_pulled(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    today, slot = clock.now().date(), world.slots["A1"]
    with unit_of_work(session_factory) as s:
        ledger.post(s, slot_id=slot, kind="adjust", quantity=-5, key="empty", at=clock.now())
        for key, quantity, lot in (("f", 2, LotRef("FRESH", today + timedelta(days=5))),
                                   ("o", 1, LotRef("OLD", today - timedelta(days=1)))):  # fmt: skip
            ledger.post(s, slot_id=slot, kind="restock", quantity=quantity, key=key, at=clock.now(), lot=lot)
        lines = restock.pick_list(s, world.machine_id, today)
        assert [(p.slot_code, p.on_hand, p.expired, p.to_pick) for p in lines] == [("A1", 2, 1, 3)]
        ids = dict(s.execute(select(SlotLot.lot, SlotLot.id)).all())
        with pytest.raises(DomainError, match="lot FRESH has not expired: leave it in slot A1"):
            restock.pull_lot(s, world.machine_id, ids["FRESH"], key="p0", now=clock.now(), today=today)
        assert restock.pull_lot(s, world.machine_id, ids["OLD"], key="p1", now=clock.now(), today=today) == 1
        counted = restock.record_count(s, world.machine_id, "A1", 1, key="c1", now=clock.now())
        assert (counted.expected, counted.counted) == (2, 1)
    with session_factory() as s:
        assert dict(s.execute(select(SlotLot.lot, SlotLot.quantity)).all()) == {"FRESH": 1, "OLD": 0}
        pull = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "pull")).one()
        assert (pull.quantity, pull.on_hand_after) == (-1, 2)
