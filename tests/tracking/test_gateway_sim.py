"""Simulated third-party gateways: `vendtrack sim ble --format theengs|ingics` over the real Mosquitto, and the
Minew / Ingics HTTP publishers and the demo's mix against a live server, each read back by our own parsers."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from flask import Flask

from core.db import unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.conftest import LiveServer
from tests.support import wait_until
from tests.tracking.conftest import seed_floor, tag_key
from tests.tracking.mosquitto import Mosquitto
from tests.tracking.test_cli_and_demo import VENDTRACK, _env
from tracking.gateway_sim import IngicsPublisher, MinewPublisher, demo_mix
from tracking.observation import Observation
from tracking.pipeline import pipeline_for
from tracking.simrun import HttpPublisher


@pytest.mark.parametrize("fmt", ["theengs", "ingics"])
def test_sim_ble_publishes_each_mqtt_format(tmp_path: Path, fmt: str, mosquitto: Mosquitto) -> None:
    prefix = mosquitto.prefix
    heard: list[Observation] = []
    status: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def ingest(batch: list[Observation]) -> None:
        with lock:
            heard.extend(batch)

    consumer = mosquitto.consumer(ingest, lambda g, o: status.append((g, o)), group=None)
    try:
        command = [VENDTRACK, "sim", "ble", "--format", fmt, "--mqtt", "127.0.0.1:1883", "--prefix", prefix,
                   "--tags", "3", "--seconds", "3"]  # fmt: skip
        done = subprocess.run(command, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        wait_until(lambda: heard and (status or fmt == "ingics"), what="the simulator's sightings")
    finally:
        consumer.stop()
    assert heard and {obs.tag_key.split("-")[0] for obs in heard} == {"ib"}
    if fmt == "theengs":  # LWT online and SYStoMQTT; Ingics' $HBRP rides with sightings, which mark it heard
        assert status and all(gateway.startswith("gw-") for gateway, _ in status)
    assert consumer.malformed == 0 and consumer.unknown_topic == 0


def test_sim_ble_says_what_a_format_needs(tmp_path: Path) -> None:
    command = [VENDTRACK, "sim", "ble", "--format", "minew", "--mqtt", "127.0.0.1:1883", "--seconds", "1"]
    done = subprocess.run(command, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--http" in done.stderr


def test_http_gateway_publishers_and_the_demo_mix(app: Flask, live_server: LiveServer) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        token, _ = create_token(session, "sim", [TokenScope.GATEWAY])
    now = time.time()
    heard = [Observation("gw-a", tag_key(1), -61, -59, None, None, now),
             Observation("gw-b", tag_key(2), -70, -59, None, None, now),
             Observation("gw-x", tag_key(3), -75, -59, None, None, now),
             Observation("gw-b", tag_key(2), -70, None, 2900, 21.5, now)]  # fmt: skip
    minew, ingics = MinewPublisher(live_server.url, token), IngicsPublisher(live_server.url, token)
    minew.publish(heard[:1])
    ingics.publish(heard[1:2])
    assert minew.poster.failures == 0 and ingics.poster is not None and ingics.poster.failures == 0
    pipeline = pipeline_for(app.extensions["vendtrack"])
    pipeline.take_uploads()
    assert pipeline.counters["observations"] == 2
    mixed, note = demo_mix(HttpPublisher(live_server.url, token), ["gw-a", "gw-b"], live_server.url, token, None)
    assert note == "gw-a as Minew (HTTP), gw-b as Ingics (HTTP)"
    mixed.publish(heard)
    pipeline.take_uploads()
    assert pipeline.counters["observations"] == 6
    assert pipeline.http_stats.counters()["rejected"] == 0
    assert pipeline.engine.knows(tag_key(3))
