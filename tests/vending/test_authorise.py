"""The kiosk's request on its own transaction (`authorise.request_in_own_transaction`): the reservation that
travels with the rules' read is gone again after any refusal, and a repeated key returns the first request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from tests.vending.conftest import World
from vending import authorise, charges
from vending.dispense import DispenseView, Facts
from vending.models import Dispense, Machine, Rule, SlotStock


def _ask(
    factory: sessionmaker[Session], world: World, clock: ManualClock, key: str, quantity: int = 1
) -> tuple[DispenseView, Facts | None]:
    with factory() as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        s.expunge(machine)
    return authorise.request_in_own_transaction(
        factory, machine=machine, worker_id=world.workers["W1"], slot_code="A1", quantity=quantity,
        charge_codes={}, request_key=key, now=clock.now(),
    )  # fmt: skip


def _held(factory: sessionmaker[Session], world: World) -> tuple[int, int]:
    with factory() as s:
        stock = s.get(SlotStock, world.slots["A1"])
        assert stock is not None
        return stock.on_hand, stock.reserved


def test_refusals_after_the_reservation_hold_nothing(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    on_hand, _ = _held(session_factory, world)
    with unit_of_work(session_factory) as s:
        s.add(Rule(name="Gloves per day", quantity=1, window="day", item_id=world.items["GLV-1"]))
    refused, _ = _ask(session_factory, world, clock, "r1", quantity=2)
    assert refused.status == "refused"
    assert refused.detail.startswith("Gloves per day: only 1 more allowed per day")
    assert _held(session_factory, world) == (on_hand, 0)  # the rule's refusal released what it had reserved
    first, known = _ask(session_factory, world, clock, "r2")
    assert first.status == "authorised" and known is not None and known.view.id == first.id
    assert _held(session_factory, world) == (on_hand, 1)  # the authorised request holds its unit
    with unit_of_work(session_factory) as s:
        charges.set_mode(s, world.site_id, "job", "required")
    no_code, _ = _ask(session_factory, world, clock, "r3")
    assert no_code.status == "refused" and no_code.detail.startswith("a job number is required")
    assert _held(session_factory, world) == (on_hand, 1)
    with session_factory() as s:
        recorded = s.execute(select(Dispense.request_key, Dispense.status).order_by(Dispense.id)).all()
    assert [tuple(r) for r in recorded] == [("r1", "refused"), ("r2", "authorised"), ("r3", "refused")]


def test_a_repeated_key_returns_the_first_request(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    first, _ = _ask(session_factory, world, clock, "same")
    again, known = _ask(session_factory, world, clock, "same")
    assert (again.id, again.status, known) == (first.id, "authorised", None)
    assert _held(session_factory, world)[1] == 1  # reserved once
