"""Guided walks end to end on the database: a simulated walk through the real pipeline (offsets injected into the
simulated gateways recovered within 2 dB, samples settled by the engine's flush), applying with audit entries,
and the refusals: unknown tag or room, a stranger's walk, finishing or applying twice.

Run with `-s` to see the figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from core.audit import AuditEntry
from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import Conflict, DomainError, Forbidden, NotFound
from tests.tracking.walk_sim import INJECTED, heard, seed_plan, walk_through
from tracking import walk, walk_timing
from tracking.floorplan import demo_floor
from tracking.models import Gateway, Tag, WalkMark, WalkSighting, Zone
from tracking.pipeline import EXTRAS_KEY, Pipeline
from tracking.states import MarkOutcome, WalkStatus

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TAG = "ib-walk-carried-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    flask_app = create_app(config)
    with unit_of_work(flask_app.extensions["vendtrack"].session_factory) as session:
        seed_plan(session, demo_floor())
        session.add(Tag(tag_key=TAG))
    return flask_app


def test_a_simulated_walk_through_the_pipeline_recovers_offsets_and_measures_room_changes(
    app: Flask, clock: ManualClock
) -> None:
    services = app.extensions["vendtrack"]
    factory = services.session_factory
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(factory, clock)
    pipeline.refresh_floor(force=True)
    plan = demo_floor()
    simulated = walk_through(plan, TAG)
    t0 = START.timestamp() + 5.0
    adverts = heard(plan, simulated, start=t0)
    with unit_of_work(factory) as session:
        walk_id = walk.start(session, TAG, "user:cara", clock)
    pipeline.flush()  # the engine learns that TAG is on an open walk
    taps = [(t0 + at, room) for at, room in simulated.taps]
    index, second = 0, t0
    while second <= t0 + simulated.end_s:
        clock.set(datetime.fromtimestamp(second, UTC))
        while taps and taps[0][0] <= second:
            with unit_of_work(factory) as session:
                walk.mark(session, walk_id, taps.pop(0)[1], "user:cara", clock)
        batch = []
        while index < len(adverts) and adverts[index].at <= second:
            batch.append(adverts[index])
            index += 1
        pipeline.ingest(batch)
        pipeline.flush()
        second += 1.0
    with unit_of_work(factory) as session:
        result = walk.finish(session, walk_id, "user:cara", clock)
    recovered = {row["gateway_id"]: -row["fitted_db"] for row in result["offsets"]}
    print("\ninjected vs recovered (dB):", {g: (INJECTED.get(g, 0.0), r) for g, r in sorted(recovered.items())})
    print("before:", result["before"], "\nafter:", result["after"])
    assert set(recovered) == {g.gateway_id for g in plan.gateways}
    for gateway_id, bias in recovered.items():
        assert abs(bias - INJECTED.get(gateway_id, 0.0)) <= 2.0, gateway_id
    assert result["sightings"] > 1000 and result["after"]["room_accuracy"] >= result["before"]["room_accuracy"]

    clock.advance(seconds=120)
    pipeline.flush()  # the last mark's deadline passes: every sample is settled
    with unit_of_work(factory) as session:
        marks = session.scalars(select(WalkMark).where(WalkMark.walk_id == walk_id)).all()
        assert len(marks) == len(simulated.taps) == 11
        assert all(m.outcome != MarkOutcome.PENDING.value for m in marks)
        reached = [m.delay_s for m in marks if m.outcome == MarkOutcome.REACHED.value]
        assert len(reached) >= 9 and all(d is not None and 0.0 <= d <= 60.0 for d in reached)
        (north,) = walk_timing.site_timing(session, clock.now())
        assert (north.site, north.samples) == ("NORTH", 11)
        assert north.median_s is not None and 0 < north.median_s <= 30
        taken = session.scalar(select(WalkSighting.at).order_by(WalkSighting.at.desc()))
        assert taken is not None and taken.timestamp() <= t0 + simulated.end_s
    pipeline.ingest(heard(plan, simulated, start=clock.now().timestamp())[:50])
    pipeline.flush()
    with unit_of_work(factory) as session:  # a finished walk's tag is no longer recorded
        assert session.scalar(select(WalkSighting.at).order_by(WalkSighting.at.desc())) == taken

    with unit_of_work(factory) as session:
        changed = walk.apply(session, walk_id, "user:cara", clock)
    assert changed >= len(INJECTED)
    with unit_of_work(factory) as session:
        offsets = dict(session.execute(select(Gateway.gateway_id, Gateway.offset_db)).all())
        assert offsets["gw-rad"] == pytest.approx(-8.0, abs=2.0)
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"tracking.walk.start", "tracking.walk.finish", "tracking.walk.apply",
                "tracking.gateway.calibrate", "tracking.zone.radius"} <= actions  # fmt: skip
        with pytest.raises(Conflict, match="already applied"):
            walk.apply(session, walk_id, "user:cara", clock)


def test_bad_input_is_answered_clearly(app: Flask, clock: ManualClock) -> None:
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        with pytest.raises(DomainError, match="unknown tag") as unknown_tag:
            walk.start(session, "ib-nobody-heard-this", "user:cara", clock)
        assert unknown_tag.value.field == "tag_key" and unknown_tag.value.status == 422
        walk_id = walk.start(session, TAG, "user:cara", clock)
        with pytest.raises(Conflict, match="already on an open walk"):
            walk.start(session, TAG, "user:dev", clock)
        with pytest.raises(DomainError, match="unknown room 'NOWHERE'") as unknown_room:
            walk.mark(session, walk_id, "NOWHERE", "user:cara", clock)
        assert unknown_room.value.field == "zone" and unknown_room.value.status == 422
        with pytest.raises(Forbidden, match="started by someone else"):
            walk.mark(session, walk_id, "ICU-1", "user:dev", clock)
        with pytest.raises(Forbidden):
            walk.finish(session, walk_id, "user:dev", clock)
        with pytest.raises(DomainError, match="tap the room you are in at least once"):
            walk.finish(session, walk_id, "user:cara", clock)
        with pytest.raises(NotFound):
            walk.mark(session, walk_id + 99, "ICU-1", "user:cara", clock)
        first = walk.mark(session, walk_id, "ICU-1", "user:cara", clock)
        assert walk.mark(session, walk_id, "ICU-1", "user:cara", clock) == first  # a double tap is one mark
        with pytest.raises(Conflict, match="still open"):
            walk.apply(session, walk_id, "user:cara", clock)
        clock.advance(seconds=30)
        result = walk.finish(session, walk_id, "user:cara", clock)
        assert result["offsets"] == [] and result["sightings"] == 0  # nothing heard: nothing to fit, honestly
        with pytest.raises(Conflict, match="already finished"):
            walk.finish(session, walk_id, "user:cara", clock)
        with pytest.raises(Conflict, match="finished: rooms can no longer be marked"):
            walk.mark(session, walk_id, "ICU-2", "user:cara", clock)
        walk.discard(session, walk_id, "user:dev", clock)  # another admin may drop a fit nobody applies
        with pytest.raises(Conflict, match="discarded"):
            walk.discard(session, walk_id, "user:cara", clock)
        assert walk.view(session, walk_id).status == WalkStatus.DISCARDED
        assert session.scalar(select(Zone.max_radius_m).where(Zone.code == "ICU-1")) == 9.0  # nothing applied


def test_a_walk_started_in_one_process_is_marked_and_finished_from_another(
    database_url: str, tmp_path: Path, clock: ManualClock, app: Flask
) -> None:
    """Two app instances on one database: nothing about the walk lives in either process's memory."""
    from core.roles import Role
    from core.users import create_user
    from tests.conftest import csrf_from, login
    from web.app import create_app

    other = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "j"), "TESTING": True,
                        "CLOCK": clock})  # fmt: skip
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "cara", "walnut-harbour-3", [Role.ADMIN])
        create_user(session, "dev", "lantern-violet-8", [Role.ADMIN])
    first, second, stranger = app.test_client(), other.test_client(), other.test_client()
    login(first, "cara", "walnut-harbour-3")
    login(second, "cara", "walnut-harbour-3")
    login(stranger, "dev", "lantern-violet-8")
    page = first.get("/tracking/walk/").get_data(as_text=True)
    started = first.post("/tracking/walk/start", data={"tag_key": TAG, "csrf_token": csrf_from(page)})
    assert started.status_code == 302
    resumed = second.get("/tracking/walk/")
    assert resumed.status_code == 302 and resumed.headers["Location"] == started.headers["Location"]
    walk_url = resumed.headers["Location"]
    token = csrf_from(second.get(walk_url).get_data(as_text=True))
    assert second.post(f"{walk_url}/mark", data={"zone": "ICU-1", "csrf_token": token}).status_code == 302
    clock.advance(seconds=40)
    assert second.post(f"{walk_url}/mark", data={"zone": "WARD-A", "csrf_token": token}).status_code == 302
    bad = second.post(f"{walk_url}/mark", data={"zone": "NOWHERE", "csrf_token": token},
                      headers={"Referer": "http://localhost" + walk_url})  # fmt: skip
    assert bad.status_code == 422 and "unknown room" in bad.get_data(as_text=True)
    other_token = csrf_from(stranger.get(walk_url).get_data(as_text=True))
    refused = stranger.post(f"{walk_url}/mark", data={"zone": "ICU-2", "csrf_token": other_token})
    assert refused.status_code == 403 and "started by someone else" in refused.get_data(as_text=True)
    clock.advance(seconds=40)
    assert second.post(f"{walk_url}/finish", data={"csrf_token": token}).status_code == 302
    shown = first.get(walk_url).get_data(as_text=True)
    assert "Ward A" in shown and 'id="before-after"' in shown and 'id="no-offsets"' in shown
    again = first.post(f"{walk_url}/finish", data={"csrf_token": csrf_from(shown)})
    assert again.status_code == 409 and "already finished" in again.get_data(as_text=True)
    assert first.post(f"{walk_url}/apply", data={"csrf_token": csrf_from(shown)}).status_code == 302
    assert "Applied" in first.get(walk_url).get_data(as_text=True)
