"""PAR rebalancing and shortfalls (tracking.par_plan): the moves for a known floor, and a shortfall that lasts
past the configured time published once as EquipmentShortfall, with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.db import unit_of_work
from core.events import EquipmentShortfall, from_json
from core.models import Site
from core.outbox import OutboxEvent
from tests.support import read_in
from tracking import par_plan
from tracking.models import Asset, AssetType, ParRule, ParShortfall, Zone

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AFTER = timedelta(days=3)


def _floor(factory: sessionmaker[Session], pumps: dict[str, int], par: dict[str, int]) -> None:
    """One site; `pumps` clean infusion pumps per unit (plus one dirty in ICU, never counted); PAR per unit."""
    with unit_of_work(factory) as s:
        site = Site(code="RIVER", name="Riverside")
        s.add(site)
        s.flush()
        s.add(Zone(code="ICU-1", name="ICU 1", unit="ICU", site_id=site.id))
        s.add(AssetType(code="infusion_pump", label="Infusion pump", plural="Infusion pumps"))
        number = 0
        for unit, count in pumps.items():
            for _ in range(count):
                number += 1
                s.add(Asset(asset_tag=f"P-{number}", name=f"Pump {number}", asset_type="infusion_pump", unit=unit))
        s.add(Asset(asset_tag="P-DIRTY", name="Dirty pump", asset_type="infusion_pump", unit="ICU", status="dirty"))
        for unit, minimum in par.items():
            s.add(ParRule(unit=unit, asset_type="infusion_pump", minimum=minimum))


def _shortfall_events(factory: sessionmaker[Session]) -> list[EquipmentShortfall]:
    with factory() as s:
        rows = s.scalars(select(OutboxEvent).where(OutboxEvent.event_type == EquipmentShortfall.event_type))
        events = [from_json(row.payload) for row in rows]
    return [e for e in events if isinstance(e, EquipmentShortfall)]


def test_moves_for_a_known_floor_largest_gap_first(session_factory: sessionmaker[Session]) -> None:
    _floor(session_factory, {"ICU": 1, "Ward B": 6, "Ward C": 3, "Store": 1}, {"ICU": 6, "Ward B": 2, "Ward C": 2})
    with session_factory() as s:
        (plan,) = par_plan.plan(s)
    assert [(u.unit, u.available, u.minimum) for u in plan.units] == [
        ("ICU", 1, 6), ("Store", 1, 0), ("Ward B", 6, 2), ("Ward C", 3, 2),
    ]  # fmt: skip
    assert plan.moves == (
        par_plan.Move(4, "Ward B", "ICU"), par_plan.Move(1, "Store", "ICU"),
    )  # fmt: skip
    assert plan.shortfall == 0 and plan.moves_note().english() == (
        "move 4 from Ward B to ICU; move 1 from Store to ICU"
    )


def test_a_shortfall_no_move_fixes_is_requested_once_after_the_configured_time(
    session_factory: sessionmaker[Session],
) -> None:
    _floor(session_factory, {"ICU": 2, "Ward B": 3}, {"ICU": 6, "Ward B": 2})
    with session_factory() as s:
        (plan,) = par_plan.plan(s)
    assert plan.moves == (par_plan.Move(1, "Ward B", "ICU"),) and plan.shortfall == 3
    assert (plan.available, plan.needed) == (5, 8)
    for hours in (0, 24, 71):  # below PAR but not yet for the configured time: rebalancing first, no request
        with unit_of_work(session_factory) as s:
            assert par_plan.check_shortfalls(s, START + timedelta(hours=hours), AFTER) == []
    assert _shortfall_events(session_factory) == []
    with unit_of_work(session_factory) as s:
        assert par_plan.check_shortfalls(s, START + AFTER, AFTER) == ["infusion_pump"]
    for hours in (1, 30):  # still short: asked once per episode
        with unit_of_work(session_factory) as s:
            assert par_plan.check_shortfalls(s, START + AFTER + timedelta(hours=hours), AFTER) == []
    (event,) = _shortfall_events(session_factory)
    assert (event.site_code, event.asset_type, event.type_label, event.quantity) == ("RIVER", "infusion_pump",
                                                                                     "Infusion pump", 3)  # fmt: skip
    assert notes.english(event.reason) == (
        "ICU below PAR (2 of 6) for 3 days; site total 5 of 8 needed; after the suggested moves "
        "(move 1 from Ward B to ICU) 3 infusion pumps still short"
    )
    with read_in("de"):
        german = notes.shown(event.reason)
    assert german.startswith("ICU unter PAR (2 von 6), Dauer 3 Tage; am Standort insgesamt 5 von 8 benötigt"), german
    # each move in German too; the type's plural is the customer's own asset type name, kept as typed
    assert german.endswith("(1 von Ward B nach ICU umlagern) fehlen noch 3 infusion pumps"), german
    with read_in("es"):
        assert "(trasladar 1 de Ward B a ICU)" in notes.shown(event.reason)
    with session_factory() as s:
        (view,) = par_plan.shortfall_views(s, START + AFTER + timedelta(days=1))
    assert view.requested_at == START + AFTER and view.lasted == "4 days" and view.cleared_at is None


def test_a_cleared_shortfall_is_a_new_episode_when_it_comes_back(session_factory: sessionmaker[Session]) -> None:
    _floor(session_factory, {"ICU": 2}, {"ICU": 3})
    with unit_of_work(session_factory) as s:
        par_plan.check_shortfalls(s, START, AFTER)
    with unit_of_work(session_factory) as s:  # a pump comes back clean before the time is up
        s.add(Asset(asset_tag="P-BACK", name="Pump back", asset_type="infusion_pump", unit="ICU"))
    with unit_of_work(session_factory) as s:
        assert par_plan.check_shortfalls(s, START + timedelta(days=1), AFTER) == []
    with unit_of_work(session_factory) as s:  # short again: the clock starts anew
        s.execute(ParRule.__table__.update().values(minimum=4))
    with unit_of_work(session_factory) as s:
        assert par_plan.check_shortfalls(s, START + timedelta(days=2), AFTER) == []
        assert par_plan.check_shortfalls(s, START + timedelta(days=4), AFTER) == []  # only 2 days of this episode
        assert par_plan.check_shortfalls(s, START + timedelta(days=5), AFTER) == ["infusion_pump"]
    with session_factory() as s:
        episodes = s.scalars(select(ParShortfall).order_by(ParShortfall.id)).all()
        assert [(e.first_short_at, e.cleared_at is not None) for e in episodes] == [
            (START, True), (START + timedelta(days=2), False),
        ]  # fmt: skip
    assert len(_shortfall_events(session_factory)) == 1
