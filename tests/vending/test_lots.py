"""Stock lots kept in step with the ledger: takes first-expiry-first-out over several lots, expired units last,
a slot without lots as before, and the kiosk's authorisation refusing what only expired units could meet."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from tests.vending.conftest import World
from vending import authorise, ledger
from vending.lots import LotRef
from vending.models import LedgerEntry, LedgerLot, Machine, SlotLot, SlotStock


def _empty(s: Session, slot_id: int, clock: ManualClock) -> None:
    held = ledger.on_hand(s, slot_id)
    ledger.post(s, slot_id=slot_id, kind="adjust", quantity=-held, key=f"empty:{slot_id}", at=clock.now())


def _lots(s: Session, slot_id: int) -> dict[str, int]:
    return dict(s.execute(select(SlotLot.lot, SlotLot.quantity).where(SlotLot.slot_id == slot_id)).all())


def _taken_from(s: Session, key: str) -> list[tuple[str, int]]:
    rows = s.execute(
        select(SlotLot.lot, LedgerLot.quantity)
        .join(SlotLot, SlotLot.id == LedgerLot.slot_lot_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLot.ledger_id)
        .where(LedgerEntry.idempotency_key == key)
        .order_by(LedgerLot.id)
    )
    return [(lot, quantity) for lot, quantity in rows]


def test_takes_are_first_expiry_first_out_over_several_lots(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    today, slot = clock.now().date(), world.slots["A1"]
    with unit_of_work(session_factory) as s:
        _empty(s, slot, clock)
        for key, quantity, lot in (
            ("late", 2, LotRef("L-LATE", today + timedelta(days=60))),
            ("soon", 1, LotRef("L-SOON", today + timedelta(days=10))),
            ("undated", 1, LotRef("L-NODATE")),
            ("plain", 1, None),  # a fill without a label: untracked
        ):
            ledger.post(s, slot_id=slot, kind="restock", quantity=quantity, key=key, at=clock.now(), lot=lot)
        assert _lots(s, slot) == {"L-LATE": 2, "L-SOON": 1, "L-NODATE": 1}
        ledger.post(s, slot_id=slot, kind="issue", quantity=-2, key="take-1", at=clock.now())
        ledger.post(s, slot_id=slot, kind="issue", quantity=-2, key="take-2", at=clock.now())
        ledger.post(s, slot_id=slot, kind="issue", quantity=-1, key="take-3", at=clock.now())
    with session_factory() as s:
        assert _taken_from(s, "take-1") == [("L-SOON", -1), ("L-LATE", -1)]  # earliest expiry first
        assert _taken_from(s, "take-2") == [("L-LATE", -1), ("L-NODATE", -1)]  # a lot without a date after dated
        assert _taken_from(s, "take-3") == []  # then the untracked unit: no lot to name
        assert _taken_from(s, "soon") == [("L-SOON", 1)]  # the restock's entry records its lot
        assert _lots(s, slot) == {"L-LATE": 0, "L-SOON": 0, "L-NODATE": 0}
        assert ledger.on_hand(s, slot) == 0


def test_expired_units_go_last_and_a_slot_without_lots_is_as_before(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    today, slot = clock.now().date(), world.slots["A2"]
    with unit_of_work(session_factory) as s:
        _empty(s, slot, clock)
        ledger.post(s, slot_id=slot, kind="restock", quantity=2, key="old", at=clock.now(),
                    lot=LotRef("OLD", today - timedelta(days=3)))  # fmt: skip
        ledger.post(s, slot_id=slot, kind="restock", quantity=1, key="new", at=clock.now(),
                    lot=LotRef("NEW", today + timedelta(days=30)))  # fmt: skip
        ledger.post(s, slot_id=slot, kind="issue", quantity=-2, key="scale-saw-2", at=clock.now())
        ledger.post(s, slot_id=world.slots["A3"], kind="issue", quantity=-2, key="no-lots", at=clock.now())
    with session_factory() as s:
        assert _taken_from(s, "scale-saw-2") == [("NEW", -1), ("OLD", -1)]
        assert _lots(s, slot) == {"OLD": 1, "NEW": 0}
        assert ledger.on_hand(s, world.slots["A3"]) == 3
        assert s.scalar(select(func.count()).select_from(SlotLot).where(SlotLot.slot_id == world.slots["A3"])) == 0
        assert _taken_from(s, "no-lots") == []


def test_authorise_refuses_what_only_expired_units_could_meet(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    today = clock.now().date()
    with unit_of_work(session_factory) as s:
        for code, fresh in (("A1", 0), ("A2", 2)):
            _empty(s, world.slots[code], clock)
            ledger.post(s, slot_id=world.slots[code], kind="restock", quantity=3, key=f"x{code}", at=clock.now(),
                        lot=LotRef("X-1", today - timedelta(days=1)))  # fmt: skip
            if fresh:
                ledger.post(s, slot_id=world.slots[code], kind="restock", quantity=fresh, key=f"f{code}",
                            at=clock.now(), lot=LotRef("F-1", today + timedelta(days=9)))  # fmt: skip

    def ask(code: str, quantity: int, key: str) -> authorise.DispenseView:
        with unit_of_work(session_factory) as s:
            machine = s.get(Machine, world.machine_id)
            assert machine is not None
            return authorise.request(s, machine=machine, worker_id=world.workers["W1"], slot_code=code,
                                     quantity=quantity, charge_codes={}, request_key=key, now=clock.now())  # fmt: skip

    all_gone = ask("A1", 1, "r1")
    expired_on = f"{today - timedelta(days=1):%Y-%m-%d}"
    assert (all_gone.status, all_gone.detail) == (
        "refused",
        f"the 3 in A1 expired on {expired_on}: ask the crib to replace them",
    )
    too_many = ask("A2", 3, "r2")
    assert (
        too_many.detail
        == f"only 2 in A2 can be issued: 3 expired on {expired_on} and wait for the crib to replace them"
    )
    assert ask("A2", 2, "r3").status == "authorised"
    with session_factory() as s:
        reserved = dict(s.execute(select(SlotStock.slot_id, SlotStock.reserved)).all())
        assert (reserved[world.slots["A1"]], reserved[world.slots["A2"]]) == (0, 2)  # refusals hold nothing
