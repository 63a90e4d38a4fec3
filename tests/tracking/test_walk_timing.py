"""Time to a room change measured on guided walks: each mark settled by the engine's flush against an injected
clock (placed after N s, already there, or never within the deadline), and the per-site median and p90 published on
/api/v1/tracking/accuracy and the locate page, with an honest line when there are no samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import ManualClock
from core.db import unit_of_work
from core.models import Site
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import login
from tests.tracking.conftest import seed_floor, tag_key
from tracking import walk, walk_timing
from tracking.models import Tag, WalkMark, Zone
from tracking.observation import Observation
from tracking.pipeline import EXTRAS_KEY, Pipeline
from tracking.states import MarkOutcome
from tracking.walk_timing import PendingMark, decide, percentile

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CARRIED = tag_key(9)  # a spare tag, on no asset


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    flask_app = create_app(config)
    factory = flask_app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        seed_floor(session)
        site = Site(code="NORTH", name="North hospital")
        session.add(site)
        session.flush()
        for zone in session.scalars(select(Zone)):
            zone.site_id = site.id
        create_user(session, "nurse", "harbour-violet-5", [Role.STAFF])
    return flask_app


def _hear(pipeline: Pipeline, clock: ManualClock, seconds: int, levels: dict[str, int]) -> None:
    """The carried tag heard once a second at these levels, the engine flushed each second."""
    for _ in range(seconds):
        now = clock.now().timestamp()
        pipeline.ingest([Observation(gw, CARRIED, rssi, -59, None, None, now) for gw, rssi in levels.items()])
        pipeline.flush()
        clock.advance(seconds=1)


def _mark(app: Flask, walk_id: int, room: str, clock: ManualClock) -> int:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        return walk.mark(session, walk_id, room, "user:cara", clock)


def _outcome(app: Flask, mark_id: int) -> tuple[str, float | None]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        row = session.get(WalkMark, mark_id)
        assert row is not None
        return row.outcome, row.delay_s


def test_each_mark_is_settled_by_the_engine_against_the_injected_clock(
    app: Flask, client: FlaskClient, clock: ManualClock
) -> None:
    services = app.extensions["vendtrack"]
    pipeline = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, clock)
    pipeline.refresh_floor(force=True)
    with unit_of_work(services.session_factory) as session:
        session.add(Tag(tag_key=CARRIED))
        session.flush()
        walk_id = walk.start(session, CARRIED, "user:cara", clock)
    in_a = {"gw-a": -55, "gw-b": -80, "gw-x": -90}
    in_b = {"gw-a": -82, "gw-b": -54, "gw-x": -75}
    _hear(pipeline, clock, 20, in_a)  # the engine has the tag in A
    already = _mark(app, walk_id, "A", clock)  # tapped A while the engine already says A
    _hear(pipeline, clock, 25, in_a)
    assert _outcome(app, already) == (MarkOutcome.REACHED.value, 0.0)
    into_b = _mark(app, walk_id, "B", clock)  # steps into B: the challenger needs its window and dwell
    assert _outcome(app, into_b) == (MarkOutcome.PENDING.value, None)
    _hear(pipeline, clock, 40, in_b)
    outcome, delay = _outcome(app, into_b)
    assert outcome == MarkOutcome.REACHED.value and delay is not None and 3.0 <= delay <= 20.0
    exit_mark = _mark(app, walk_id, "X", clock)  # says exit, but the radio still hears B best
    _hear(pipeline, clock, 30, in_b)
    assert _outcome(app, exit_mark) == (MarkOutcome.PENDING.value, None)  # the deadline (60 s) is not over yet
    _hear(pipeline, clock, 31, in_b)
    assert _outcome(app, exit_mark) == (MarkOutcome.NEVER.value, None)

    with unit_of_work(services.session_factory) as session:
        (north,) = walk_timing.site_timing(session, clock.now())
    assert (north.site, north.samples, north.never) == ("NORTH", 3, 1)
    assert north.median_s == delay and north.p90_s is None  # the slowest tenth never came: no p90 to publish
    with unit_of_work(services.session_factory) as session:
        reader, _ = create_token(session, "reader", [TokenScope.READ])
    body = client.get("/api/v1/tracking/accuracy", headers={"Authorization": f"Bearer {reader}"}).get_json()
    (site,) = body["sites"]
    assert site["site"] == "NORTH" and site["reference_tags"] == 0 and site["room_accuracy"] is None
    assert site["time_to_room_change"] == {"window_s": 30 * 86400, "samples": 3, "never": 1, "deadline_s": 60,
                                           "median_s": delay, "p90_s": None}  # fmt: skip
    old = client.get("/api/v1/tracking/accuracy?walk_window_s=60", headers={"Authorization": f"Bearer {reader}"})
    assert old.get_json()["sites"] == []  # the marks are older than a minute now
    bad = client.get("/api/v1/tracking/accuracy?walk_window_s=nan", headers={"Authorization": f"Bearer {reader}"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "walk_window_s"
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/").get_data(as_text=True)
    assert f"Time to room change {round(delay)} s median, p90 not reached in time (3 guided-walk marks" in page
    assert "1 not placed within 60 s" in page


def test_with_no_walks_the_locate_page_says_so(app: Flask, client: FlaskClient) -> None:
    login(client, "nurse", "harbour-violet-5")
    page = client.get("/tracking/").get_data(as_text=True)
    assert "Time to room change: not measured yet (no guided walk in the last 30 days)." in page


def test_decide_and_percentiles() -> None:
    mark = PendingMark(1, "t", "B", 100.0, None)
    assert decide(mark, [(104.0, "B")], (None, 0.0), 105.0) == (MarkOutcome.REACHED, 4.0)
    assert decide(mark, [], ("B", 90.0), 105.0) == (MarkOutcome.REACHED, 0.0)  # there before the tap
    assert decide(mark, [], ("B", 107.5), 108.0) == (MarkOutcome.REACHED, 7.5)  # placed between flushes
    assert decide(mark, [], ("A", 50.0), 159.0) is None  # still within the deadline
    assert decide(mark, [], ("A", 50.0), 160.0) == (MarkOutcome.NEVER, None)
    assert decide(mark, [], ("B", 161.0), 162.0, deadline_s=60.0) == (MarkOutcome.NEVER, None)  # too late
    tapped_on = PendingMark(1, "t", "B", 100.0, 110.0)  # the walker tapped the next room at 110
    assert decide(tapped_on, [(112.0, "B")], ("C", 115.0), 115.0) == (MarkOutcome.NEVER, None)
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 10.0], 0.5) == 2.0 and percentile([3.0, 1.0, 2.0, 10.0], 0.9) == 10.0
    assert percentile([1.0, float("inf")], 0.9) is None
    assert timedelta(seconds=walk_timing.WINDOW_S).days == 30
