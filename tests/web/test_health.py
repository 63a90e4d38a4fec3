"""/healthz and /admin/ingest read heartbeats: dead workers degrade, gone ones expire, a restart heals."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.heartbeats import Beat, HeartbeatWriter, WorkerKind, WorkerState, write_beats
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tracking.sources.stats import IngestStats


def _now(client: FlaskClient) -> datetime:
    now: datetime = client.application.extensions["vendtrack"].clock.now()
    return now


def _write(session_factory: sessionmaker[Session], process: str, *beats: Beat) -> None:
    with unit_of_work(session_factory) as session:
        write_beats(session, beats, 5, process=process)


def test_a_crashed_process_degrades_health_until_it_expires(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    now = _now(client)
    expire_s = client.application.extensions["vendtrack"].settings.heartbeat_expire_intervals * 5
    hour_ago = now - timedelta(hours=1)
    _write(session_factory, "host:1", Beat("outbox-dispatcher-0", now - timedelta(seconds=30), hour_ago))
    body = client.get("/healthz").get_json()
    [(name, worker)] = body["workers"].items()
    assert body["status"] == "degraded" and name == "outbox-dispatcher-0@host:1"
    assert (worker["alive"], worker["verdict"]) == (False, "dead")
    assert body["problems"] == ["outbox-dispatcher-0@host:1: dead"]

    _write(session_factory, "host:1", Beat("outbox-dispatcher-0", now - timedelta(seconds=expire_s + 1), now))
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok", body
    assert body["workers"]["outbox-dispatcher-0@host:1"]["verdict"] == "expired"


def test_a_restarted_process_returns_health_to_ok_at_once(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    now = _now(client)
    hour_ago = now - timedelta(hours=1)
    _write(session_factory, "host:1", Beat("outbox-dispatcher-0", now - timedelta(seconds=40), hour_ago))
    assert client.get("/healthz").get_json()["status"] == "degraded"
    _write(session_factory, "host:2", Beat("outbox-dispatcher-0", now, now))  # the same job, a new process
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok", body
    assert body["workers"]["outbox-dispatcher-0@host:1"]["verdict"] == "replaced"
    assert body["workers"]["outbox-dispatcher-0@host:2"]["verdict"] == "ok"


def test_a_stopped_worker_does_not_degrade(client: FlaskClient, session_factory: sessionmaker[Session]) -> None:
    now = _now(client)
    _write(session_factory, "host:1", Beat("tracking-flush", now - timedelta(minutes=2), now, WorkerState.STOPPED))
    assert client.get("/healthz").get_json()["status"] == "ok"


def _ingester(role: str, now: datetime, state: WorkerState, heard_ago_s: float | None, **counters: int) -> Beat:
    heard = None if heard_ago_s is None else now - timedelta(seconds=heard_ago_s)
    return Beat(role, now, now - timedelta(hours=1), state, WorkerKind.INGESTER, heard, 120.0, dict(counters))


def test_dead_down_or_silent_ingesters_degrade_health(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    now = _now(client)
    _write(session_factory, "host:1", _ingester("tracking-mqtt a", now, WorkerState.RUNNING, 3.0, accepted=10))
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["ingesters"]["tracking-mqtt a@host:1"]["accepted"] == 10
    for state, heard, verdict in (
        (WorkerState.RUNNING, 600.0, "silent"),  # alive, but nothing heard for 10 minutes (limit 120 s)
        (WorkerState.DOWN, 3.0, "down"),  # the broker refuses or cannot be reached
        (WorkerState.BACKOFF, 3.0, "backoff"),  # the loop died and waits to be restarted
    ):
        _write(session_factory, "host:1", _ingester("tracking-mqtt a", now, state, heard))
        body = client.get("/healthz").get_json()
        assert body["status"] == "degraded" and body["ingesters"]["tracking-mqtt a@host:1"]["verdict"] == verdict
    dead = _ingester("tracking-mqtt a", now, WorkerState.RUNNING, 3.0)
    _write(session_factory, "host:1", dataclasses.replace(dead, alive_at=now - timedelta(seconds=30)))
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and body["ingesters"]["tracking-mqtt a@host:1"]["alive"] is False


def test_ingester_counters_travel_through_the_writer_and_show_on_the_admin_page(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    stats = IngestStats("tracking-http-batch", silent_after_s=120.0)
    stats.accept(5)
    stats.reject("rssi:not_finite", "rssi must be a finite number")
    stats.reject("rssi:not_finite", "rssi must be a finite number")
    stats.reject("at:in_future", "at is ahead")

    class Reporter:
        name = "http"

        def heartbeat(self) -> Beat:
            return stats.beat(WorkerState.RUNNING)

    HeartbeatWriter(session_factory, lambda: [Reporter()]).flush()
    body = client.get("/healthz").get_json()
    [ingester] = body["ingesters"].values()
    assert (ingester["accepted"], ingester["rejected"]) == (5, {"rssi:not_finite": 2, "at:in_future": 1})
    assert ingester["last_message_ago_s"] is not None and ingester["last_message_ago_s"] < 60

    assert client.get("/admin/ingest").status_code in (302, 401)
    with unit_of_work(session_factory) as session:
        create_user(session, "nurse", "esrun-password", [Role.STAFF])
        create_user(session, "root", "toor-password", [Role.ADMIN])
    login(client, "nurse", "esrun-password")
    assert client.get("/admin/ingest").status_code == 403
    admin = client.application.test_client()
    login(admin, "root", "toor-password")
    page = admin.get("/admin/ingest").get_data(as_text=True)
    assert "tracking-http-batch" in page and "rssi:not_finite</code> × 2" in page
