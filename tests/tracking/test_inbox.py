"""Gateway uploads through the database: a web process queues them, the process that owns the engine takes them
once, in arrival order, heartbeats included (tracking.inbox)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.tracking.conftest import advert_hex, seed_floor, tag_key
from tracking import inbox
from tracking.models import Asset, GatewayInbox, Zone
from tracking.observation import Observation
from tracking.pipeline import Pipeline, pipeline_for
from web.app import create_app


def _minew(client: FlaskClient, token: str, gateway: str, rssi: int, minor: int) -> None:
    body = [{"type": "Gateway", "mac": "AC233FC001EA"},
            {"type": "Unknown", "mac": "AC233FA00001", "rssi": rssi, "rawData": advert_hex(minor)}]  # fmt: skip
    reply = client.post(f"/api/v1/gateways/{gateway}/minew", data=json.dumps(body),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    assert reply.status_code == 200, reply.get_data(as_text=True)


def test_an_upload_taken_by_one_process_is_decided_by_its_engine(app: Flask, client: FlaskClient) -> None:
    """`app` plays a web process; a second app on the same database plays the workers process with the engine."""
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        seed_floor(session)
        token, _ = create_token(session, "gw", [TokenScope.GATEWAY])
    for _ in range(3):
        _minew(client, token, "gw-a", -55, 1)
    with unit_of_work(services.session_factory) as session:
        assert inbox.backlog(session)[0] == 3
    workers_app = create_app({"DATABASE_URL": services.settings.database_url, "TESTING": True,
                              "INSTANCE_PATH": services.settings.instance_path})  # fmt: skip
    engine_owner = pipeline_for(workers_app.extensions["vendtrack"])
    engine_owner.flush()  # takes the three uploads
    for t in range(1, 4):  # the engine wants a few seconds of evidence before it names a room
        engine_owner.engine.observe(tag_key(1), "gw-a", -55, -59, engine_owner.now() + t)
    engine_owner.flush(at=engine_owner.now() + 4)
    assert engine_owner.engine.knows(tag_key(1))
    assert not pipeline_for(services).engine.knows(tag_key(1))  # the web process only queued it
    with unit_of_work(services.session_factory) as session:
        assert inbox.backlog(session) == (0, None)
        zone = session.scalar(select(Zone.code).join(Asset, Asset.zone_id == Zone.id).where(Asset.asset_tag == "A-1"))
    assert zone == "A"
    assert engine_owner.counters["observations"] == 3


def test_take_keeps_arrival_order_heartbeats_and_a_limit(app: Flask) -> None:
    factory = app.extensions["vendtrack"].session_factory
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        assert inbox.put(session, "gw-a", [], None, now) == 0  # nothing to say: no row
        for n in range(5):
            inbox.put(session, "gw-a", [Observation("gw-a", tag_key(n), -60 - n, -59, None, None, 1e9 + n)], None, now)
        inbox.put(session, "gw-b", [], False, now)  # a heartbeat alone ("offline")
    with unit_of_work(factory) as session:
        first = inbox.take(session, limit=2)
    assert [o.tag_key for o in first.observations] == [tag_key(0), tag_key(1)] and first.heartbeats == []
    with unit_of_work(factory) as session:
        rest = inbox.take(session)
    assert [o.rssi for o in rest.observations] == [-62, -63, -64]
    assert rest.observations[0] == Observation("gw-a", tag_key(2), -62, -59, None, None, 1e9 + 2)
    assert rest.heartbeats == [("gw-b", False)] and rest.batches == 4
    with unit_of_work(factory) as session:
        assert session.scalar(select(GatewayInbox.id)) is None


def test_two_engines_never_take_the_same_batch(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    if services.settings.database_url.startswith("sqlite"):
        pytest.skip("SKIP LOCKED is a PostgreSQL feature; SQLite serialises writers")
    factory = services.session_factory
    with unit_of_work(factory) as session:
        for n in range(4):
            inbox.put(session, "gw-a", [Observation("gw-a", tag_key(n), -60, -59, None, None, 1e9)], None,
                      datetime.now(UTC))  # fmt: skip
    one, two = factory(), factory()
    try:
        first = inbox.take(one, limit=3)  # not yet committed: its rows stay locked
        second = inbox.take(two)
        one.commit()
        two.commit()
    finally:
        one.close()
        two.close()
    assert first.batches == 3 and second.batches == 1
    assert {o.tag_key for o in first.observations}.isdisjoint({o.tag_key for o in second.observations})


def test_pipeline_takes_more_than_one_limit_in_one_flush(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        seed_floor(session)
        for _ in range(inbox.TAKE_LIMIT + 3):
            inbox.put(session, "gw-a", [Observation("gw-a", tag_key(1), -60, -59, None, None, 1e9)], None,
                      datetime.now(UTC))  # fmt: skip
    pipeline = Pipeline(services.session_factory, services.clock)
    assert pipeline.take_uploads() == inbox.TAKE_LIMIT + 3
    assert pipeline.counters["observations"] == inbox.TAKE_LIMIT + 3


def test_healthz_shows_waiting_uploads_and_degrades_when_they_wait_long(app: Flask, client: FlaskClient) -> None:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        inbox.put(session, "gw-a", [Observation("gw-a", tag_key(1), -60, -59, None, None, 1e9)], None,
                  services.clock.now())  # fmt: skip
    fresh = client.get("/healthz").get_json()
    assert fresh["gateway_inbox"]["waiting"] == 1 and fresh["gateway_inbox"]["alerts"] == []
    with unit_of_work(services.session_factory) as session:
        inbox.put(session, "gw-a", [], True, services.clock.now() - timedelta(minutes=5))
    late = client.get("/healthz").get_json()
    assert late["status"] == "degraded" and "workers process" in late["gateway_inbox"]["alerts"][0]
