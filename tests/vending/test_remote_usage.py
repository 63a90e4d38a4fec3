"""Overruns across edges: reported whatever order the edges' facts arrive in, once per worker, rule and window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.events import ItemDispensed
from core.fleet_central import record_fact
from core.fleet_models import FleetOverrun
from core.models import Site
from tests.vending.conftest import NOW, World
from vending import remote_usage
from vending.models import Rule


def _take(site: str, minutes: int, quantity: int = 1, worker: str = "W3", sku: str = "GLV-1") -> ItemDispensed:
    return ItemDispensed(
        occurred_at=NOW + timedelta(minutes=minutes), site_code=site, sku=sku, quantity=quantity, worker=worker,
        machine="L1", slot="A1",
    )  # fmt: skip


def _arrive(factory: sessionmaker[Session], *takes: ItemDispensed) -> None:
    """What the central consumer does with each forwarded take, one transaction per event."""
    for evt in takes:
        with unit_of_work(factory) as s:
            record_fact(s, evt, NOW + timedelta(hours=1))
            s.flush()
            remote_usage.flag_overrun(s, evt)


def _reports(factory: sessionmaker[Session]) -> list[tuple[str, str, int, str]]:
    with factory() as s:
        rows = s.execute(select(FleetOverrun.worker, FleetOverrun.rule_name, FleetOverrun.used, FleetOverrun.sites))
        return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def two_sites(session_factory: sessionmaker[Session], world: World) -> sessionmaker[Session]:
    with unit_of_work(session_factory) as s:
        s.add(Site(code="S2", name="Site two", timezone="UTC"))
        s.add(Rule(name="Gloves per day", item_id=world.items["GLV-1"], quantity=4, window="day"))
    return session_factory


@pytest.mark.parametrize("order", ["first edge first", "second edge first"])
def test_overrun_is_reported_whichever_edge_forwards_first(two_sites: sessionmaker[Session], order: str) -> None:
    at_one = [_take("S1", m) for m in (0, 1, 2)]
    at_two = [_take("S2", m) for m in (10, 11, 12)]
    _arrive(two_sites, *(at_one + at_two if order == "first edge first" else at_two + at_one))
    assert _reports(two_sites) == [("W3", "Gloves per day", 6, "S1: 3, S2: 3")]


def test_one_report_per_window_updated_by_later_takes(two_sites: sessionmaker[Session]) -> None:
    _arrive(two_sites, _take("S1", 0, 3), _take("S2", 5, 2))
    assert _reports(two_sites) == [("W3", "Gloves per day", 5, "S1: 3, S2: 2")]
    _arrive(two_sites, _take("S2", 6, 1))
    assert _reports(two_sites) == [("W3", "Gloves per day", 6, "S1: 3, S2: 3")]
    _arrive(two_sites, _take("S1", 60 * 24, 3), _take("S2", 60 * 24 + 5, 2))  # the next day: a window of its own
    assert sorted(r[2] for r in _reports(two_sites)) == [5, 6]


def test_no_report_within_the_limit_or_at_one_site_alone(two_sites: sessionmaker[Session]) -> None:
    _arrive(two_sites, _take("S1", 0, 2), _take("S2", 5, 2))  # 4 of 4 across sites
    _arrive(two_sites, _take("S1", 0, 2, worker="W1"), _take("S1", 3, 3, worker="W1"))  # one site decided that
    _arrive(two_sites, _take("S2", 5, 3, sku="EAR-1"))  # another item
    assert _reports(two_sites) == []


def test_rolling_window_counts_takes_that_arrive_out_of_order(two_sites: sessionmaker[Session], world: World) -> None:
    with unit_of_work(two_sites) as s:
        s.add(
            Rule(name="Ear plugs per 8 h", item_id=world.items["EAR-1"], quantity=2, window="rolling", rolling_hours=8)
        )
    late, early = _take("S2", 7 * 60, sku="EAR-1"), _take("S1", 0, 2, sku="EAR-1")
    far = _take("S2", 9 * 60, 2, sku="EAR-1")  # more than 8 h after the first take: its own window
    _arrive(two_sites, late, far, early)
    assert _reports(two_sites) == [("W3", "Ear plugs per 8 h", 3, "S1: 2, S2: 1")]
