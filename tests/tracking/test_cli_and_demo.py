"""`vendtrack tracking scan|replay`, `vendtrack sim ble`, the HTTP publisher and the demo seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from core.db import unit_of_work
from core.roles import TokenScope
from core.runtime import DemoContext
from core.users import create_token
from firmware_bridge.ble.scanner import NO_DBUS
from tests.conftest import LiveServer
from tests.tracking.conftest import advert_hex, seed_floor, tag_key
from tests.tracking.mosquitto import Mosquitto
from tracking.demo import seed
from tracking.models import Asset, Gateway, LocationInterval, ParRule, Zone
from tracking.observation import Observation
from tracking.pipeline import pipeline_for
from tracking.simrun import HttpPublisher

VENDTRACK = str(Path(sys.executable).with_name("vendtrack"))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDTRACK_")}
    env.update({"VENDTRACK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **extra})
    return env


def test_scan_without_dbus_exits_with_one_sentence(tmp_path: Path) -> None:
    env = _env(tmp_path, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path / 'none'}")
    done = subprocess.run(
        [VENDTRACK, "tracking", "scan", "--seconds", "1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip() == NO_DBUS


def test_replay_feeds_the_engine_and_reports_bad_lines(app: Flask, tmp_path: Path) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
    start = time.time() - 60
    lines = [json.dumps({"gateway_id": "gw-b", "tag_key": tag_key(2), "rssi": -60, "at": start + i}) for i in range(20)]
    raw = {"gateway_id": "gw-a", "address": "AA:01", "rssi": -58, "data": advert_hex(1)}
    lines += [json.dumps(raw | {"at": start + i}) for i in range(20)]
    lines += ["{broken", json.dumps({"gateway_id": "gw-a", "rssi": -50, "at": start})]
    recording = tmp_path / "ward.jsonl"
    recording.write_text("\n".join(lines) + "\n")
    result = app.test_cli_runner().invoke(args=["tracking", "replay", str(recording)])
    assert result.exit_code == 0, result.output
    assert "replayed 40 observations (2 bad lines skipped); 2 room changes written" in result.output
    assert "line 41: line:" in result.output
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        zones = dict(session.execute(select(Asset.asset_tag, Asset.zone_id)).all())
        assert zones["A-1"] == floor.zone_ids["A"] and zones["A-2"] == floor.zone_ids["B"]
        assert session.scalar(select(func.count(LocationInterval.id))) == 2


def test_sim_ble_publishes_espresense_messages(tmp_path: Path, mosquitto: Mosquitto) -> None:
    prefix = mosquitto.prefix
    heard: list[Observation] = []
    consumer = mosquitto.consumer(heard.extend, group=None)
    try:
        command = [
            VENDTRACK,
            "sim",
            "ble",
            "--mqtt",
            "127.0.0.1:1883",
            "--prefix",
            prefix,
            "--tags",
            "3",
            "--seconds",
            "3",
        ]
        done = subprocess.run(command, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "published" in done.stdout
    finally:
        consumer.stop()
    assert heard and {obs.tag_key.split("-")[0] for obs in heard} == {"ib"}
    assert {obs.gateway_id for obs in heard} <= {f"gw-{z}" for z in
            ("icu-1", "icu-2", "or-1", "ward-a", "equip", "ward-b", "rad", "er-1", "pharm", "soiled")}  # fmt: skip


def test_http_publisher_posts_raw_batches(app: Flask, live_server: LiveServer) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        token, _ = create_token(session, "sim", [TokenScope.GATEWAY])
    publisher = HttpPublisher(live_server.url, token)
    now = time.time()
    publisher.publish([Observation(gw, tag_key(3), -61, -59, None, None, now) for gw in ("gw-a", "gw-b")])
    assert publisher.failures == 0
    pipeline = pipeline_for(app.extensions["vendtrack"])
    assert pipeline.counters["observations"] == 0  # queued for the engine's next flush (tracking.inbox), not yet heard
    assert pipeline.take_uploads() == 2  # one batch per gateway
    assert pipeline.counters["observations"] == 2


def test_demo_seed_builds_the_ward(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    demo = DemoContext(services=services, instance_path=Path("."), site_id=1, site_code="X")
    with unit_of_work(services.session_factory) as session:
        seed(session, demo)
    with unit_of_work(services.session_factory) as session:
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert (count(Zone), count(Gateway), count(Asset), count(ParRule)) == (12, 11, 61, 4)  # 60 + the wrench
        kinds = set(session.scalars(select(Zone.kind)))
        assert kinds == {"room", "corridor", "exit", "soiled_utility"}
    assert demo.state["tracking.gateway_token"]
