"""rules.check reads the usage it needs from the database: on random histories it refuses exactly as the same rules
evaluated over a plain scan of the whole ledger (every kind of window, worker, group and pooled rules, returns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.models import Item
from tests.vending.conftest import World
from vending import rules
from vending.models import GroupMember, LedgerEntry, Rule, WorkerGroup
from vending.rule_cache import CACHE

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Sunday: Berlin's clocks went forward at 01:00 UTC
ZONES = ("UTC", "Europe/Berlin", "Asia/Kolkata")
RULE = st.tuples(
    st.sampled_from(["shift", "day", "week", "rolling"]),
    st.sampled_from([1, 5, 24, 30]),  # rolling hours
    st.sampled_from(["06:00,14:00,22:00", "05:30,17:45", "00:00"]),  # shift starts
    st.sampled_from(["GLV-1", "DRL-8", "ppe", "cutting"]),  # an item or a category
    st.sampled_from(["all", "W1", "fitters", "welders", "fitters pooled", "welders pooled"]),
    st.integers(0, 3),  # limit
)
TAKE = st.tuples(
    st.one_of(st.integers(0, 9 * 24 * 60), st.integers(0, 16 * 60)),  # minutes before now; many in the last shifts
    st.sampled_from(["GLV-1", "DRL-8", "EAR-1"]),
    st.sampled_from(["W1", "W2", "W3", None]),
    st.sampled_from([("issue", -1), ("issue", -2), ("return", 1), ("restock", 3)]),
)


def _scan(s: Session) -> list[rules.Usage]:
    """Every take and return in the ledger, whenever and whoever: what the check must agree with."""
    rows = s.execute(
        select(LedgerEntry.at, LedgerEntry.item_id, Item.category, LedgerEntry.quantity, LedgerEntry.worker_id)
        .join(Item, Item.id == LedgerEntry.item_id)
        .where(LedgerEntry.kind.in_(("issue", "return")))
    )
    return [
        rules.Usage(at.astimezone(UTC), item, category, -qty, worker or 0) for at, item, category, qty, worker in rows
    ]


def _rule(n: int, world: World, groups: dict[str, int], drawn: tuple[str, int, str, str, str, int]) -> Rule:
    window, hours, shifts, target, scope, limit = drawn
    named = {"item_id": world.items[target]} if target in world.items else {"category": target}
    scoped: dict[str, object] = {}
    if scope == "W1":
        scoped = {"worker_id": world.workers["W1"]}
    elif scope != "all":
        scoped = {"group_id": groups[scope.split()[0]], "pooled": scope.endswith("pooled")}
    return Rule(name=f"rule {n}", quantity=limit, window=window, rolling_hours=hours, shift_starts=shifts,
                **named, **scoped)  # fmt: skip


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# another member's take, at the very start of a shift that began before midnight, counts in a pooled item rule
@example([("shift", 1, "06:00,14:00,22:00", "GLV-1", "fitters pooled", 1)], [(150, "GLV-1", "W2", ("issue", -1))],
         ("W1", "GLV-1"), 1, "UTC", 0)  # fmt: skip
# a pooled category rule reads the group's takes of every item
@example([("day", 1, "00:00", "ppe", "fitters pooled", 1)], [(20, "EAR-1", "W2", ("issue", -1))],
         ("W1", "GLV-1"), 1, "UTC", 0)  # fmt: skip
# a return gives one back; the rolling window resets when the first take leaves it
@example([("rolling", 5, "00:00", "GLV-1", "W1", 1)],
         [(60, "GLV-1", "W1", ("issue", -2)), (30, "GLV-1", "W1", ("return", 1)), (10, "GLV-1", "W2", ("issue", -1))],
         ("W1", "GLV-1"), 1, "UTC", 0)  # fmt: skip
# a member's return counts in a pooled category rule too
@example([("day", 1, "00:00", "ppe", "fitters pooled", 2)],
         [(30, "EAR-1", "W2", ("issue", -2)), (20, "EAR-1", "W2", ("return", 1))],
         ("W1", "GLV-1"), 1, "UTC", 0)  # fmt: skip
# W2 is in both groups: two pooled groups, each read by item
@example([("shift", 1, "06:00,14:00,22:00", "GLV-1", "fitters pooled", 3),
          ("shift", 1, "06:00,14:00,22:00", "GLV-1", "welders pooled", 1)],
         [(10, "GLV-1", "W3", ("issue", -1))], ("W2", "GLV-1"), 1, "UTC", 0)  # fmt: skip
# Monday 00:30 in Berlin is Sunday in UTC; the week there began an hour shorter than a UTC week (DST)
@example([("week", 1, "00:00", "cutting", "all", 1)], [(6 * 24 * 60 - 30, "DRL-8", "W1", ("issue", -1))],
         ("W1", "DRL-8"), 1, "Europe/Berlin", 0)  # fmt: skip
@given(
    drawn=st.lists(RULE, min_size=1, max_size=4),
    takes=st.lists(TAKE, max_size=16),
    request=st.tuples(st.sampled_from(["W1", "W2", "W3"]), st.sampled_from(["GLV-1", "DRL-8", "EAR-1"])),
    quantity=st.integers(1, 3),
    zone=st.sampled_from(ZONES),
    later=st.integers(0, 48 * 60),  # minutes after NOW: across midnight and the DST change
)
def test_check_refuses_as_a_scan_of_the_whole_ledger(
    session_factory: sessionmaker[Session],
    world: World,
    drawn: list[tuple[str, int, str, str, str, int]],
    takes: list[tuple[int, str, str | None, tuple[str, int]]],
    request: tuple[str, str],
    quantity: int,
    zone: str,
    later: int,
) -> None:
    now, tz = NOW + timedelta(minutes=later), ZoneInfo(zone)
    slots = {"GLV-1": world.slots["A1"], "DRL-8": world.slots["A2"], "EAR-1": world.slots["A3"]}
    with unit_of_work(session_factory) as s:
        groups = {name: gid for gid, name in s.execute(select(WorkerGroup.id, WorkerGroup.name))}
        both = {"worker_id": world.workers["W2"], "group_id": groups["welders"]}  # W2 is a fitter and a welder
        if s.get(GroupMember, (both["worker_id"], both["group_id"])) is None:
            s.add(GroupMember(**both))
        s.execute(delete(LedgerEntry).where(LedgerEntry.actor == "test"))  # the seeded restocks stay
        s.execute(delete(Rule))
        s.add_all([_rule(n, world, groups, rule) for n, rule in enumerate(drawn)])
        rows = [
            {"idempotency_key": f"t{n}", "at": now - timedelta(minutes=ago), "slot_id": slots[sku],
             "item_id": world.items[sku], "kind": kind, "quantity": qty, "on_hand_after": 0,
             "worker_id": world.workers[worker] if worker else None, "charge_codes": "{}", "reason": "",
             "flagged": False, "actor": "test"}
            for n, (ago, sku, worker, (kind, qty)) in enumerate(takes)
        ]  # fmt: skip
        if rows:
            s.execute(insert(LedgerEntry), rows)
    CACHE.invalidate()
    worker, sku = request
    member_of = {"W1": {groups["fitters"]}, "W2": set(groups.values()), "W3": {groups["welders"]}}[worker]
    category = "cutting" if sku == "DRL-8" else "ppe"
    asked = {"site_id": world.site_id, "worker_id": world.workers[worker], "groups": member_of,
             "item_id": world.items[sku], "category": category}  # fmt: skip
    with session_factory() as s:
        refusal = rules.check(s, **asked, quantity=quantity, now=now, tz=tz)  # type: ignore[arg-type]
        specs, members = CACHE.applicable_with_members(s, **asked)  # type: ignore[arg-type]
        expected = rules.evaluate(specs.specs, _scan(s), worker_id=world.workers[worker], members=members,
                                  quantity=quantity, now=now, tz=tz)  # fmt: skip
    assert (refusal and (refusal.rule_id, refusal.resets_at)) == (expected and (expected.rule_id, expected.resets_at))
