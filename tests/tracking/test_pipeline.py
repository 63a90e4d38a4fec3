"""Pipeline flushes: zone intervals, batched last-seen, alerts and outbox events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.clock import ManualClock
from core.outbox import OutboxEvent
from tests.support import read_in
from tests.tracking.conftest import seed_floor, tag_key
from tracking.models import Asset, Gateway, LocationInterval, Tag, TrackingAlert
from tracking.observation import Observation
from tracking.pipeline import Pipeline, TrackingSettings


def _hear(pipeline: Pipeline, clock: ManualClock, seconds: int, levels: dict[str, int], minor: int = 1) -> None:
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, tag_key(minor), rssi, -59, None, None, now) for gw, rssi in levels.items()])
        clock.advance(seconds=1)


def _events(session: Session, event_type: str) -> int:
    return int(session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.event_type == event_type)) or 0)


def _make(session_factory: sessionmaker[Session], **settings: float) -> tuple[Pipeline, ManualClock]:
    clock = ManualClock()
    pipeline = Pipeline(session_factory, clock, settings=TrackingSettings(**settings))  # type: ignore[arg-type]
    pipeline.refresh_floor(force=True)
    return pipeline, clock


def test_room_changes_become_intervals_and_asset_moved_events(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        floor = seed_floor(session)
    pipeline, clock = _make(session_factory)
    _hear(pipeline, clock, 5, {"gw-a": -60, "gw-b": -80})
    assert pipeline.flush().room_changes == 1
    _hear(pipeline, clock, 30, {"gw-a": -85, "gw-b": -58})
    pipeline.flush()
    with session_factory() as session:
        asset = session.get(Asset, floor.asset_ids["A-1"])
        assert asset is not None and asset.zone_id == floor.zone_ids["B"] and asset.confidence > 0.5
        intervals = session.scalars(select(LocationInterval).order_by(LocationInterval.id)).all()
        assert [(i.zone_id, i.ended_at is None) for i in intervals] == [
            (floor.zone_ids["A"], False),
            (floor.zone_ids["B"], True),
        ]
        assert "dB over A" in notes.english(intervals[1].reason)
        assert _events(session, "tracking.asset_moved") == 2
        tag = session.scalar(select(Tag).where(Tag.tag_key == tag_key(1)))
        assert tag is not None and tag.last_seen_at is not None


def test_exit_zone_raises_one_alert_and_zone_exit_event(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        seed_floor(session)
    pipeline, clock = _make(session_factory)
    _hear(pipeline, clock, 5, {"gw-a": -60})
    pipeline.flush()
    _hear(pipeline, clock, 30, {"gw-x": -55, "gw-a": -90})
    pipeline.flush()
    pipeline.flush()
    with session_factory() as session:
        alerts = session.scalars(select(TrackingAlert).where(TrackingAlert.kind == "zone_exit")).all()
        assert len(alerts) == 1 and notes.english(alerts[0].message).endswith("entered exit zone Exit")
        with read_in("de"):
            assert notes.shown(alerts[0].message).endswith("hat die Ausgangszone Exit betreten")
        assert _events(session, "tracking.zone_exit") == 1


def test_battery_low_unknown_tags_and_missing(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        seed_floor(session)
    pipeline, clock = _make(session_factory, missing_after_s=120.0, battery_low_mv=2500)
    now = clock.now().timestamp()
    pipeline.ingest([Observation("gw-a", tag_key(1), 0, None, 2300, -1.0, now)])  # TLM only
    pipeline.ingest([Observation("gw-a", "ib-unknown-1-1", -70, -59, None, None, now)])
    _hear(pipeline, clock, 5, {"gw-a": -60}, minor=2)
    pipeline.flush()
    clock.advance(timedelta(minutes=5))
    _hear(pipeline, clock, 3, {"gw-a": -60}, minor=2)  # tag 1 stays silent
    pipeline.flush()
    with session_factory() as session:
        tag = session.scalar(select(Tag).where(Tag.tag_key == tag_key(1)))
        assert tag is not None and tag.battery_mv == 2300 and tag.temperature_c == -1.0
        assert session.scalar(select(Tag).where(Tag.tag_key == "ib-unknown-1-1")) is not None
        alerts = session.scalars(select(TrackingAlert).where(TrackingAlert.kind.in_(["battery_low", "missing"])))
        kinds = sorted(a.kind + ":" + a.subject for a in alerts)
        assert kinds == [f"battery_low:{tag_key(1)}", "missing:A-1"]
        assert _events(session, "tracking.tag_battery_low") == 1
        assert _events(session, "tracking.asset_missing") == 1


def test_below_par_and_gateway_down(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        floor = seed_floor(session)
        pump = session.get(Asset, floor.asset_ids["A-2"])
        assert pump is not None
        pump.status = "dirty"  # one clean pump left of a PAR of two
        session.commit()
    pipeline, clock = _make(session_factory)
    _hear(pipeline, clock, 5, {"gw-a": -60, "gw-b": -70, "gw-x": -80})
    pipeline.flush()
    clock.advance(seconds=30)
    _hear(pipeline, clock, 2, {"gw-a": -60})
    pipeline.flush()
    with session_factory() as session:
        subjects = {(a.kind, a.subject) for a in session.scalars(select(TrackingAlert))}
        assert ("below_par", "ICU:infusion_pump") in subjects
        assert {("gateway_down", "gw-b"), ("gateway_down", "gw-x")} <= subjects
        assert session.scalar(select(Gateway.status).where(Gateway.gateway_id == "gw-b")) == "down"
        assert _events(session, "tracking.par_shortage") == 1


def test_failed_flush_keeps_room_changes_for_the_next_one(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        floor = seed_floor(session)
    pipeline, clock = _make(session_factory)
    _hear(pipeline, clock, 5, {"gw-a": -60})
    real = pipeline.session_factory
    pipeline.session_factory = None  # type: ignore[assignment]
    with pytest.raises(TypeError):
        pipeline.flush()
    pipeline.session_factory = real
    assert pipeline.flush().room_changes == 1
    with session_factory() as session:
        asset = session.get(Asset, floor.asset_ids["A-1"])
        assert asset is not None and asset.zone_id == floor.zone_ids["A"]
