"""A tag nobody hears becomes unknown on time, with no other traffic: the flush worker's clock sweeps the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import notes
from core.clock import ManualClock
from core.heartbeats import WorkerState
from tests.support import wait_until
from tests.tracking.conftest import seed_floor, seed_two_floors, tag_key
from tracking.models import Asset, LocationInterval
from tracking.observation import Observation
from tracking.pipeline import Pipeline, TrackingSettings
from tracking.runtime import FlushWorker


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    wait_until(condition, timeout=seconds, every=0.02)


def _two_rounds(worker: FlushWorker) -> None:
    """Wait until a flush round that began after this call has finished (the worker beats after each)."""
    for _ in range(2):
        mark = worker.supervisor.alive_at
        wait_until(lambda: worker.supervisor.alive_at > mark, what="a flush round")  # noqa: B023


def _zone_of(session_factory: sessionmaker[Session], asset_id: int) -> tuple[int | None, float, str]:
    with session_factory() as session:
        asset = session.get(Asset, asset_id)
        assert asset is not None
        return asset.zone_id, asset.confidence, notes.english(asset.location_reason)


def test_a_silent_tag_turns_unknown_on_time_with_no_other_traffic(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        floor = seed_floor(session)
    clock = ManualClock()
    pipeline = Pipeline(session_factory, clock, settings=TrackingSettings(lost_after_s=30.0))
    pipeline.refresh_floor(force=True)
    for _ in range(5):  # the only traffic there will ever be: one tag, heard by its room's gateway for 5 s
        now = clock.now().timestamp()
        pipeline.ingest([Observation("gw-a", tag_key(1), -58, -59, None, None, now)])
        clock.advance(seconds=1)
    worker = FlushWorker(pipeline, interval=0.02)
    worker.start()
    try:
        pump = floor.asset_ids["A-1"]
        wait_for(lambda: _zone_of(session_factory, pump)[0] == floor.zone_ids["A"])
        clock.advance(seconds=20)  # heard 24 s ago: still in A (held: its gateway is silent, but not for long)
        _two_rounds(worker)
        assert _zone_of(session_factory, pump)[0] == floor.zone_ids["A"]
        clock.advance(seconds=11)  # heard 35 s ago: the worker's next round makes it unknown, nothing else happens
        wait_for(lambda: _zone_of(session_factory, pump)[0] is None)
        assert worker.heartbeat().state == WorkerState.RUNNING
    finally:
        worker.stop()
    _zone, confidence, reason = _zone_of(session_factory, pump)
    assert confidence == 0.0
    assert "no gateway heard the tag for 3" in reason and "(limit 30 s)" in reason and "gateway is silent too" in reason
    with session_factory() as session:
        intervals = session.scalars(select(LocationInterval).where(LocationInterval.asset_id == pump)).all()
        assert [(i.zone_id, notes.english(i.reason) == reason) for i in intervals] == [
            (floor.zone_ids["A"], False), (None, True)]  # fmt: skip


def test_the_limit_is_a_setting(session_factory: sessionmaker[Session]) -> None:
    settings = TrackingSettings.from_extra({"tracking_lost_after_s": "12", "tracking_future_tolerance_s": "2"})
    pipeline = Pipeline(session_factory, ManualClock(), settings=settings)
    assert pipeline.engine.config.lost_after_s == 12.0 and pipeline.settings.times.future_tolerance_s == 2.0


def test_assets_placed_by_an_earlier_process_are_released_when_their_tags_stay_silent(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        floor = seed_two_floors(session)  # three assets placed in rooms, their tags last heard "now"
    clock = ManualClock(datetime.now(UTC) + timedelta(seconds=20))
    pipeline = Pipeline(session_factory, clock, settings=TrackingSettings(lost_after_s=30.0, par_check_s=0.0))
    pipeline.refresh_floor(force=True)  # a fresh engine: the process that placed them is gone
    pipeline.ingest([Observation("gw-204", tag_key(2), -55, -59, None, None, clock.now().timestamp())])
    assert pipeline.flush().room_changes == 0  # 20 s of silence: not yet
    clock.advance(seconds=15)
    pipeline.ingest([Observation("gw-204", tag_key(2), -55, -59, None, None, clock.now().timestamp())])
    assert pipeline.flush().room_changes == 3  # 35 s: the two tags nobody heard, and tag 2's first fix here
    zones = {asset: _zone_of(session_factory, floor.asset_ids[asset]) for asset in ("W-1", "W-2", "W-3")}
    assert zones["W-1"][0] is None and zones["W-3"][0] is None and zones["W-2"][0] == floor.zone_ids["204"]
    assert zones["W-1"][2] == "no gateway heard the tag for 35 s (limit 30 s)"
