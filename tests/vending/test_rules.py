"""Rules before anything moves: windows, several rules per item, groups, restrictions, charge codes, messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import force_locale
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from tests.vending.conftest import World
from vending import authorise, charges, dispense, ledger
from vending.models import ItemRestriction, Machine, Rule, WorkerGroup
from vending.rules import RuleSpec, Usage, evaluate, parse_shift_starts

UTC_ZONE = ZoneInfo("UTC")


def _spec(window: str, quantity: int = 2, hours: int = 24, shifts: str = "06:00,14:00,22:00") -> RuleSpec:
    return RuleSpec(1, "Gloves", quantity, window, hours, parse_shift_starts(shifts), 7, None, None)


def _used(*times: datetime, qty: int = 1) -> list[Usage]:
    return [Usage(t, 7, "ppe", qty, 1) for t in times]


def _eval(spec: RuleSpec, usage: list[Usage], now: datetime, quantity: int = 1, tz: ZoneInfo = UTC_ZONE) -> str | None:
    refusal = evaluate([spec], usage, worker_id=1, members=frozenset({1}), quantity=quantity, now=now, tz=tz)
    return refusal.message if refusal else None


NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def test_shift_window_names_the_next_shift() -> None:
    usage = _used(NOON - timedelta(hours=5), NOON - timedelta(hours=1))
    assert _eval(_spec("shift"), usage, NOON) == "Gloves: limit 2 per shift reached, next at 14:00 UTC"
    assert _eval(_spec("shift"), usage, NOON + timedelta(hours=2)) is None  # new shift at 14:00
    assert _eval(_spec("shift"), _used(NOON - timedelta(hours=7)), NOON, quantity=2) is None  # before 06:00


def test_the_reset_time_is_written_in_the_kiosks_language(app: Flask) -> None:
    usage = _used(NOON - timedelta(hours=3), NOON - timedelta(hours=2))
    berlin = ZoneInfo("Europe/Berlin")
    with app.test_request_context("/kiosk/L1"), force_locale("de"):
        german = str(_eval(_spec("week"), usage, NOON, tz=berlin))
    with app.test_request_context("/kiosk/L1"), force_locale("es"):
        spanish = str(_eval(_spec("week"), usage, NOON, tz=berlin))
    assert german.endswith("wieder ab Mo. 09 März 00:00 CET"), german
    assert spanish.endswith("a partir de lun 09 mar 00:00 CET"), spanish


def test_night_shift_crosses_midnight() -> None:
    night = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    usage = _used(night - timedelta(minutes=20), night + timedelta(hours=2))
    assert _eval(_spec("shift"), usage, night + timedelta(hours=3)) == (
        "Gloves: limit 2 per shift reached, next at 06:00 UTC"
    )


def test_day_and_week_windows_in_site_time() -> None:
    usage = _used(NOON - timedelta(hours=3), NOON - timedelta(hours=2))
    assert _eval(_spec("day"), usage, NOON) == "Gloves: limit 2 per day reached, next at Thu 05 Mar 00:00 UTC"
    berlin = ZoneInfo("Europe/Berlin")
    message = _eval(_spec("week"), usage, NOON, tz=berlin)
    assert message == "Gloves: limit 2 per week reached, next at Mon 09 Mar 00:00 CET"
    monday_before = _used(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))  # Monday 00:30 in Berlin, Sunday in UTC
    assert _eval(_spec("week", quantity=1), monday_before, NOON, tz=berlin) is not None
    assert _eval(_spec("week", quantity=1), monday_before, NOON, tz=UTC_ZONE) is None


def test_rolling_window_resets_when_the_oldest_take_leaves_it() -> None:
    usage = _used(NOON - timedelta(hours=20), NOON - timedelta(hours=3))
    assert _eval(_spec("rolling", hours=24), usage, NOON) == (
        "Gloves: limit 2 per rolling 24 h reached, next at 16:00 UTC"
    )
    assert _eval(_spec("rolling", hours=24), usage, NOON + timedelta(hours=4, minutes=1)) is None


def test_partial_allowance_is_explained() -> None:
    assert _eval(_spec("day", quantity=3), _used(NOON), NOON, quantity=3) == (
        "Gloves: only 2 more allowed per day, next at Thu 05 Mar 00:00 UTC"
    )


def test_returns_give_allowance_back() -> None:
    usage = _used(NOON - timedelta(hours=1), qty=2) + _used(NOON - timedelta(minutes=30), qty=-1)
    assert _eval(_spec("day"), usage, NOON) is None


def _request(
    factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    key: str,
    worker: str = "W1",
    slot: str = "A1",
    quantity: int = 1,
    codes: dict[str, str] | None = None,
) -> dispense.DispenseView:
    with unit_of_work(factory) as s:
        machine = s.get(Machine, world.machine_id)
        assert machine is not None
        view = authorise.request(
            s,
            machine=machine,
            worker_id=world.workers[worker],
            slot_code=slot,
            quantity=quantity,
            charge_codes=codes or {},
            request_key=key,
            now=clock.now(),
        )
        if view.status == "authorised":  # stand in for the hardware: sensed and completed
            dispense.mark_commanded(s, view.id, {}, clock.now())
            dispense.record_sensed(s, view.id, quantity, "test", clock.now())
            view = dispense.complete(s, view.id, clock.now())
        return view


def test_several_rules_per_item_all_checked(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        s.add_all(
            [
                Rule(name="Gloves per day", quantity=3, window="day", item_id=world.items["GLV-1"]),
                Rule(name="PPE per shift", quantity=2, window="shift", category="ppe"),
            ]
        )
    assert _request(session_factory, world, clock, "r1").status == "completed"
    assert _request(session_factory, world, clock, "r2", slot="A3").status == "completed"  # ear plugs are PPE
    refused = _request(session_factory, world, clock, "r3")
    assert refused.status == "refused"
    assert refused.detail == "PPE per shift: limit 2 per shift reached, next at 14:00 UTC"
    clock.advance(hours=5)  # 14:00: a new shift, but the day rule still counts
    assert _request(session_factory, world, clock, "r4").status == "completed"
    assert _request(session_factory, world, clock, "r5").status == "completed"
    assert _request(session_factory, world, clock, "r6").detail.startswith("Gloves per day: limit 3 per day reached")
    assert _request(session_factory, world, clock, "r7", worker="W2").status == "completed"  # per worker


def test_pooled_group_rule_and_item_restriction(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        fitters = s.query(WorkerGroup).filter_by(name="fitters").one()
        welders = s.query(WorkerGroup).filter_by(name="welders").one()
        s.add(
            Rule(
                name="Fitters drill bits",
                quantity=2,
                window="week",
                group_id=fitters.id,
                pooled=True,
                item_id=world.items["DRL-8"],
            )
        )
        s.add(ItemRestriction(item_id=world.items["GLV-1"], group_id=welders.id))
    assert _request(session_factory, world, clock, "g1", worker="W1", slot="A2").status == "completed"
    assert _request(session_factory, world, clock, "g2", worker="W2", slot="A2").status == "completed"
    refused = _request(session_factory, world, clock, "g3", worker="W1", slot="A2")
    assert refused.detail.startswith("Fitters drill bits: your group's limit 2 per week reached, next at Mon 09 Mar")
    assert _request(session_factory, world, clock, "g4", worker="W3", slot="A2").status == "completed"  # a welder
    assert _request(session_factory, world, clock, "g5", worker="W1").detail == "Gloves is restricted to welders"
    assert _request(session_factory, world, clock, "g6", worker="W3").status == "completed"


@pytest.mark.parametrize(
    ("mode", "given", "outcome"),
    [
        ("off", {"job": "anything"}, "completed"),
        ("optional", {}, "completed"),
        ("required", {}, "a job number is required: enter it before choosing the item"),
        ("required", {"job": "J-1"}, "completed"),
        (
            "in_list",
            {"job": "J-404"},
            "job number 'J-404' is not in the list: pick one from the list or ask your supervisor",
        ),
        ("in_list", {"job": "J-100"}, "completed"),
    ],
)
def test_charge_code_modes(
    session_factory: sessionmaker[Session],
    world: World,
    clock: ManualClock,
    mode: str,
    given: dict[str, str],
    outcome: str,
) -> None:
    with unit_of_work(session_factory) as s:
        charges.set_mode(s, world.site_id, "job", mode)
        charges.add_code(s, world.site_id, "job", "J-100", "Line 3 rebuild")
    view = _request(session_factory, world, clock, "cc", codes=given)
    assert (view.status if view.status == "completed" else view.detail) == outcome
    if view.status == "completed":
        with session_factory() as s:
            entry = ledger.recent(s, 1)[0]
            expected = {} if mode == "off" else given
            import json

            assert json.loads(entry.charge_codes) == expected


def test_pooled_category_rule_counts_every_member(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        fitters = s.query(WorkerGroup).filter_by(name="fitters").one()
        s.add(Rule(name="Fitters PPE", quantity=2, window="day", group_id=fitters.id, pooled=True, category="ppe"))
    assert _request(session_factory, world, clock, "p1", worker="W1", slot="A1").status == "completed"
    assert _request(session_factory, world, clock, "p2", worker="W2", slot="A3").status == "completed"
    refused = _request(session_factory, world, clock, "p3", worker="W2", slot="A1")
    assert refused.detail.startswith("Fitters PPE: your group's limit 2 per day reached")
    assert _request(session_factory, world, clock, "p4", worker="W3", slot="A1").status == "completed"


def _reference(
    specs: list[RuleSpec], usage: list[Usage], members: dict[int, frozenset[int]], quantity: int, now: datetime
) -> int | None:
    """The rule evaluate() must name, computed the plain way: every rule over every take with _matches."""
    from vending.rules import _matches, window_bounds

    for spec in specs:
        start, _end = window_bounds(spec, now, UTC_ZONE)
        used = sum(u.quantity for u in usage if u.at >= start and _matches(spec, u, 1, members))
        if used + quantity > spec.quantity:
            return spec.id
    return None


@settings(max_examples=300, deadline=None, derandomize=True)
# a take exactly at a window's start counts in that window (random draws rarely land on one)
@example(rules=[("shift", 24, ("item", 1), False, 1)], takes=[(360, 1, 1, 1)], quantity=1)
@example(rules=[("day", 24, ("category", "ppe"), False, 1)], takes=[(720, 1, 1, 1)], quantity=1)
@example(rules=[("week", 24, ("all", None), True, 1)], takes=[(3600, 2, 2, 1)], quantity=1)
@example(rules=[("rolling", 24, ("item", 2), False, 1)], takes=[(1440, 2, 1, 1)], quantity=1)
@given(
    rules=st.lists(
        st.tuples(
            st.sampled_from(["shift", "day", "week", "rolling"]),
            st.one_of(st.integers(1, 200), st.sampled_from([24, 48])),  # rolling hours
            st.sampled_from([("item", 1), ("item", 2), ("category", "ppe"), ("category", "cut"), ("all", None)]),
            st.booleans(),  # pooled over group 10
            st.integers(0, 4),  # limit
        ),
        min_size=1,
        max_size=12,
    ),
    takes=st.lists(
        st.tuples(
            # minutes before noon on a Wednesday, with the window starts themselves (a take at 14:00 counts
            # in the 14:00 shift): 06:00 shift, midnight, Monday, and rolling 24/48 h
            st.one_of(st.integers(0, 10 * 24 * 60), st.sampled_from([0, 360, 720, 1440, 2880, 3600])),
            st.integers(1, 2),
            st.sampled_from([1, 2, 3]),
            st.integers(-1, 2),
        ),
        max_size=8,
    ),
    quantity=st.integers(1, 3),
)
def test_evaluate_names_the_same_rule_as_a_plain_count(
    rules: list[tuple[str, int, tuple[str, object], bool, int]],
    takes: list[tuple[int, int, int, int]],
    quantity: int,
) -> None:
    specs = [
        RuleSpec(
            n + 1,
            f"rule {n}",
            limit,
            window,
            hours,
            parse_shift_starts("06:00,14:00,22:00") if window == "shift" else (),
            target[1] if target[0] == "item" else None,  # type: ignore[arg-type]
            target[1] if target[0] == "category" else None,  # type: ignore[arg-type]
            10 if pooled else None,
        )
        for n, (window, hours, target, pooled, limit) in enumerate(rules)
    ]
    usage = [
        Usage(NOON - timedelta(minutes=ago), item, "ppe" if item == 1 else "cut", qty, worker)
        for ago, item, worker, qty in takes
    ]
    members = {10: frozenset({1, 2})}
    refusal = evaluate(specs, usage, worker_id=1, members=members, quantity=quantity, now=NOON, tz=UTC_ZONE)
    assert (refusal.rule_id if refusal else None) == _reference(specs, usage, members, quantity, NOON)
