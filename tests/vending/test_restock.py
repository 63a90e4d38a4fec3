"""Restock mode: a pick list from slots below max, counts flagged when they differ, fills in the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import DomainError
from tests.vending.conftest import World
from vending import ledger, restock
from vending.models import LedgerEntry


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
        assert [(e.kind, e.quantity, e.reason) for e in flagged] == [("count", -1, "counted 1, expected 2")]
