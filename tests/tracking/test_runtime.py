"""The workers `vendtrack workers` runs for tracking, against the real Mosquitto: the MQTT 5 consumer at QoS 1,
a message acknowledged only once the engine holds it, a bad message counted while the loop goes on, and the
engine partitions `vendtrack serve` adds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto
from tracking.pipeline import pipeline_for
from tracking.runtime import MqttWorker, engine_processes
from tracking.sources.mqtt import MqttConsumer
from web.app import create_app
from web.serve import extra_processes, named_process_workers, process_workers
from web.workers import WorkerSet

UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


def _app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **variables: str) -> Flask:
    for name, value in variables.items():
        monkeypatch.setenv(f"VENDTRACK_{name.upper()}", value)
    return create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})


def _sighting(prefix: str, minor: int, gateway: str = "gw-a") -> tuple[str, bytes]:
    device = f"iBeacon:{UUID}-1-{minor}"
    return f"{prefix}espresense/devices/{device}/{gateway}", json.dumps({"id": device, "rssi": -60}).encode()


def _consumer(workers: WorkerSet) -> MqttConsumer:
    [found] = [w.consumer for w in workers.workers if isinstance(w, MqttWorker)]
    return found


def test_the_workers_process_consumes_qos1_and_survives_a_bad_message(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    prefix, publisher = mosquitto.prefix, mosquitto.publisher()
    app = _app(database_url, tmp_path, monkeypatch, tracking_mqtt="1", tracking_mqtt_prefix=prefix)
    workers = process_workers(app, dispatchers=1)
    consumer = _consumer(workers)
    engine = pipeline_for(app.extensions["vendtrack"]).engine
    mosquitto.run(workers)
    try:
        mosquitto.subscribed(consumer)
        publisher.send(*_sighting(prefix, 1))
        wait_until(lambda: consumer.acked == 1, timeout=15, what="the first PUBACK")
        assert engine.knows(f"ib-{UUID.replace('-', '')}-1-1")  # acknowledged means the engine holds it
        publisher.send(f"{prefix}espresense/devices/x/gw-a", b"{not json")
        publisher.send(*_sighting(prefix, 2))
        wait_until(lambda: consumer.acked == 3, timeout=15, what="three PUBACKs")
        assert engine.knows(f"ib-{UUID.replace('-', '')}-1-2")
    finally:
        workers.stop()
    assert consumer.counters["rejected:payload:not_json"] == 1 and consumer.observations == 2
    assert consumer.supervisor.restarts == 0 and consumer.connects == 1
    assert all(topic.startswith(f"$share/vendtrack/{prefix}") for topic in consumer.topics())  # one engine: shared


def test_serve_adds_one_engine_process_per_extra_partition_and_each_keeps_its_tags(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    prefix, publisher = mosquitto.prefix, mosquitto.publisher()
    variables = {"tracking_mqtt": "1", "tracking_mqtt_prefix": prefix, "tracking_mqtt_processes": "2"}
    lead_app = _app(database_url, tmp_path, monkeypatch, **variables)
    assert extra_processes(lead_app) == {"tracking-engine-1": {"VENDTRACK_TRACKING_MQTT_PARTITION": "1/2"}}
    monkeypatch.setenv("VENDTRACK_TRACKING_MQTT_PARTITION", "1/2")  # what `vendtrack serve` gives that process
    other_app = _app(database_url, tmp_path / "other", monkeypatch, **variables)
    assert extra_processes(other_app) == {}  # a partition process starts no further processes
    sets = [process_workers(lead_app, dispatchers=1), named_process_workers(other_app, "tracking-engine-1")]
    consumers = [_consumer(s) for s in sets]
    assert [(c.partition.index, c.partition.count) for c in consumers if c.partition] == [(0, 2), (1, 2)]
    assert [w.name for w in sets[1].workers] == ["tracking-flush-1of2", "tracking-mqtt-127.0.0.1:1883-1of2"]
    engines = [pipeline_for(app.extensions["vendtrack"]).engine for app in (lead_app, other_app)]
    for found in sets:
        mosquitto.run(found)
    try:
        mosquitto.subscribed(*consumers)
        for minor in range(1, 21):
            for gateway in ("gw-a", "gw-b"):
                publisher.send(*_sighting(prefix, minor, gateway))
        wait_until(lambda: all(c.acked == 40 for c in consumers), timeout=15, what="every message at both")
    finally:
        for found in sets:
            found.stop()
    keys = [f"ib-{UUID.replace('-', '')}-1-{minor}" for minor in range(1, 21)]
    owners = [[i for i, engine in enumerate(engines) if engine.knows(key)] for key in keys]
    assert all(len(found) == 1 for found in owners), owners  # every tag in exactly one engine
    assert {found[0] for found in owners} == {0, 1}
    assert sum(c.observations for c in consumers) == 40 and sum(c.not_ours for c in consumers) == 40


def test_engine_processes_follow_the_settings() -> None:
    from tracking.pipeline import TrackingSettings

    assert engine_processes(TrackingSettings()) == {}
    three = engine_processes(TrackingSettings(mqtt_processes=3))
    assert three == {
        "tracking-engine-1": {"VENDTRACK_TRACKING_MQTT_PARTITION": "1/3"},
        "tracking-engine-2": {"VENDTRACK_TRACKING_MQTT_PARTITION": "2/3"},
    }
    assert TrackingSettings(mqtt_processes=3).partition.index == 0
    assert engine_processes(TrackingSettings(mqtt_processes=3, mqtt_partition="2/3")) == {}
    with_reader = engine_processes(TrackingSettings(mqtt_processes=3, mqtt_reader=True))
    assert with_reader == {**three, "tracking-reader": {}}  # the reader in a process of its own
    assert engine_processes(TrackingSettings(mqtt_reader=True)) == {"tracking-reader": {}}
