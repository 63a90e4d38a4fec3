"""The reader's wiring (`tracking.reader`) in one test process, against the real Mosquitto: the workers that
`vendtrack workers` runs with `VENDTRACK_TRACKING_MQTT_READER=1`, each engine fed only its own tags, bad messages
counted while the reader and the engines go on, /healthz showing the reader and its engines, a bad setting
refused. The same in real processes (`vendtrack serve`, an engine killed and restarted) is in test_reader_serve.py.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask

from core.heartbeats import WorkerState
from core.runtime import PROCESS_ROLE
from core.settings import SettingsError, load_settings
from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto
from tracking import plugin
from tracking import reader as reader_module
from tracking.observation import Observation
from tracking.pipeline import pipeline_for
from tracking.reader import EngineLink, ReaderWorker
from tracking.runtime import MqttWorker
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import owner
from web.app import create_app
from web.serve import extra_processes, named_process_workers, process_workers
from web.workers import WorkerSet

UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


def _app(database_url: str, instance: Path, monkeypatch: pytest.MonkeyPatch, **variables: str) -> Flask:
    for name, value in variables.items():
        monkeypatch.setenv(f"VENDTRACK_{name.upper()}", value)
    return create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "TESTING": True})


def _key(minor: int) -> str:
    return f"ib-{UUID.replace('-', '')}-1-{minor}"


def _sighting(prefix: str, minor: int, gateway: str = "gw-a") -> tuple[str, bytes]:
    device = f"iBeacon:{UUID}-1-{minor}"
    return f"{prefix}espresense/devices/{device}/{gateway}", json.dumps({"id": device, "rssi": -60}).encode()


def _of(workers: WorkerSet, kind: type) -> list[Any]:
    return [w for w in workers.workers if isinstance(w, kind)]


def test_the_reader_feeds_each_engine_its_own_tags_and_survives_bad_messages(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    prefix, instance = mosquitto.prefix, tmp_path / "instance"
    variables = {"tracking_mqtt": "1", "tracking_mqtt_prefix": prefix, "tracking_mqtt_processes": "3",
                 "tracking_mqtt_reader": "1", "heartbeat_seconds": "0.5"}  # fmt: skip
    apps = [_app(database_url, instance, monkeypatch, **variables)]
    for index in (1, 2):  # what `vendtrack serve` gives each engine process
        apps.append(_app(database_url, instance, monkeypatch, tracking_mqtt_partition=f"{index}/3"))
    monkeypatch.delenv("VENDTRACK_TRACKING_MQTT_PARTITION")
    apps.append(_app(database_url, instance, monkeypatch))  # the reader's process: the lead's settings
    for app, role in zip(apps, ["workers", "tracking-engine-1", "tracking-engine-2", "tracking-reader"], strict=True):
        app.extensions["vendtrack"].extras[PROCESS_ROLE] = role  # as `vendtrack workers [--process NAME]` sets it
    assert list(extra_processes(apps[0])) == ["tracking-engine-1", "tracking-engine-2", "tracking-reader"]
    sets = [process_workers(apps[0], dispatchers=1)]
    sets += [named_process_workers(apps[i], f"tracking-engine-{i}") for i in (1, 2)]
    reader_set = named_process_workers(apps[3], "tracking-reader")
    [reader] = reader_set.workers  # the reader's process runs the reader and nothing else
    assert isinstance(reader, ReaderWorker) and reader.count == 3
    links: list[EngineLink] = [_of(s, EngineLink)[0] for s in sets]
    assert [(link.index, link.count) for link in links] == [(0, 3), (1, 3), (2, 3)]
    assert not any(_of(s, MqttWorker) for s in sets)  # no engine subscribes on its own
    assert not any(_of(s, ReaderWorker) for s in sets)  # the reader runs in none of the engines' processes
    apps = apps[:3]
    sets.append(reader_set)
    engines = [pipeline_for(app.extensions["vendtrack"]).engine for app in apps]
    consumers: list[MqttConsumer] = [link.consumer for link in links]
    for found in sets:
        mosquitto.run(found)
    wait_until(lambda: reader.router is not None and reader.router.subscribed, timeout=30,
               what="the reader subscribed once its three engines joined")  # fmt: skip
    publisher = mosquitto.publisher()
    good = [_sighting(prefix, minor, gateway) for minor in range(1, 31) for gateway in ("gw-a", "gw-b")]
    bad_tag = f"iBeacon:{UUID}-1-7"
    bad = [
        (f"{prefix}espresense/devices/{bad_tag}/gw-a", b"{not json"),  # to tag 7's owner, which rejects it
        (f"{prefix}espresense/devices/{bad_tag}/gw-a", json.dumps({"id": bad_tag, "rssi": 40}).encode()),
        (f"{prefix}vendtrack/adverts/gw-a", b"[" * 5000),  # a raw batch names no tag: to every engine
        (f"{prefix}espresense/rooms/gw-a/status", b"\xff\xfe"),  # a gateway's status: to every engine
        (f"{prefix}espresense/devices//gw-a", b"{}"),
    ]
    publisher.send_all(good[:30] + bad + good[30:])
    total = len(good) + len(bad)
    wait_until(lambda: reader.router is not None and reader.router.acked == total, timeout=30,
               what="every message acknowledged by the reader")  # fmt: skip
    owners = [[i for i, engine in enumerate(engines) if engine.knows(_key(minor))] for minor in range(1, 31)]
    assert owners == [[owner(_key(minor), 3)] for minor in range(1, 31)]  # each tag in its owner's engine only
    assert {found[0] for found in owners} == {0, 1, 2}
    assert sum(c.not_ours for c in consumers) == 0  # the reader sent each engine only its own tags
    assert sum(c.observations for c in consumers) == len(good)
    bad_owner = consumers[owner(_key(7), 3)].counters
    assert bad_owner["rejected:payload:not_json"] == 1 and bad_owner["rejected:rssi:out_of_range"] == 1
    for consumer in consumers:  # the raw batch and the status reached every engine, each rejected it
        assert consumer.counters["rejected"] >= 2, consumer.counters
    assert reader.sessions == 1 and reader.supervisor.restarts == 0 and reader.router.connects == 1
    assert all(link.links == 1 and link.supervisor.restarts == 0 for link in links)
    with apps[0].test_client() as client:

        def shown() -> bool:
            health = client.get("/healthz").get_json()
            readers = [w for w in health["workers"].values() if w["role"].startswith("tracking-mqtt-reader")]
            engines_seen = [i for i in health["ingesters"].values() if "fed by the reader" in i["info"]]
            return (len(readers) == 1 and readers[0]["alive"] and readers[0]["state"] == "running"
                    and len(engines_seen) == 3 and all(i["alive"] for i in engines_seen))  # fmt: skip

        wait_until(shown, timeout=15, every=0.2, what="/healthz showing the reader and its three engines")
    for found in sets:
        found.stop()


def test_an_engine_leaving_ends_the_session_and_its_unconfirmed_message_comes_again(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """The reader's side of an engine going away: its session ends, every link is dropped, the engines join again
    and the broker delivers the message nobody had confirmed a second time."""
    path = str(tmp_path / "r.sock")
    release, got = threading.Event(), []

    def slow(observations: list[Observation]) -> None:
        got.extend(observations)
        release.wait(10)

    consumer = MqttConsumer(slow, lambda *_: None, prefix=mosquitto.prefix, group=None)
    reader = ReaderWorker(path, 1, consumer.broker, mosquitto.prefix, session_expiry_s=60, backoff=(0.2, 1))
    link = EngineLink(path, consumer, 0, 1, backoff=(0.2, 1))
    for runner in (reader, link):
        mosquitto.run(runner)
    wait_until(lambda: reader.router is not None and reader.router.subscribed, timeout=15, what="the session")
    mosquitto.publisher().send(*_sighting(mosquitto.prefix, 1))
    wait_until(lambda: len(got) == 1, timeout=15, what="the message at the engine")
    reader.links[0].shutdown(2)  # the engine's link goes, the message in its hands unconfirmed
    release.set()
    wait_until(lambda: reader.sessions == 2 and reader.router is not None and reader.router.subscribed,
               timeout=30, what="the engine back and a second session")  # fmt: skip
    wait_until(lambda: len(got) >= 2, timeout=15, what="the unconfirmed message delivered again")
    wait_until(lambda: reader.router is not None and reader.router.acked >= 1, timeout=15, what="its PUBACK")
    assert {obs.tag_key for obs in got} == {_key(1)}
    assert reader.acked == 0  # the first session acknowledged nothing: the engine never confirmed it there
    reader.stop()
    assert not Path(path).exists()


def test_a_bad_reader_setting_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    assert plugin.EXTRA_VARIABLES["tracking_mqtt_reader"] is not None
    with pytest.raises(SettingsError) as caught:
        load_settings({"VENDTRACK_TRACKING_MQTT_READER": "maybe"}, tmp_path)
    assert "VENDTRACK_TRACKING_MQTT_READER must be 1 or 0, got 'maybe'" in str(caught.value)
    good = load_settings({"VENDTRACK_TRACKING_MQTT_READER": "yes"}, tmp_path)
    assert good.extra["tracking_mqtt_reader"] == "1"


def test_a_reader_missing_an_engine_reports_down_naming_it_then_reads_once_it_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    monkeypatch.setattr(reader_module, "GATHER_LATE_S", 0.5)
    path = str(tmp_path / "r.sock")
    consumers = [MqttConsumer(lambda _obs: None, lambda *_: None, prefix=mosquitto.prefix, group=None)
                 for _ in range(2)]  # fmt: skip
    reader = ReaderWorker(path, 2, consumers[0].broker, mosquitto.prefix, session_expiry_s=0, backoff=(0.2, 0.5))
    mosquitto.run(reader)
    mosquitto.run(EngineLink(path, consumers[0], 0, 2, backoff=(0.2, 0.5)))
    wait_until(lambda: reader.supervisor.state == WorkerState.DOWN, timeout=15, what="the reader down")
    assert "engine(s) 1 of 2 have not linked" in reader.supervisor.last_error
    assert "waiting for engine(s) 1 of 2" in reader.heartbeat().info
    mosquitto.run(EngineLink(path, consumers[1], 1, 2, backoff=(0.2, 0.5)))
    wait_until(lambda: reader.supervisor.state == WorkerState.RUNNING and reader.router is not None, timeout=15,
               what="the reader reading once engine 1 linked")  # fmt: skip
    assert reader.heartbeat().info.startswith("reading") and reader.heartbeat().counters["engines_connected"] == 2


def test_only_a_process_running_everything_runs_the_reader_beside_its_engine(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under serve the reader has a process of its own; waitress's one process (role "all") runs it as a thread.
    A reader process asked for without the reader's settings is refused, naming them."""
    app = _app(database_url, tmp_path / "i", monkeypatch, tracking_mqtt="1", tracking_mqtt_reader="1")
    assert list(extra_processes(app)) == ["tracking-reader"]  # one engine: serve adds only the reader's process
    alone = process_workers(app, dispatchers=1)  # role "all"
    assert len(_of(alone, ReaderWorker)) == 1 and len(_of(alone, EngineLink)) == 1
    app.extensions["vendtrack"].extras[PROCESS_ROLE] = "workers"
    served = process_workers(app, dispatchers=1)
    assert not _of(served, ReaderWorker) and len(_of(served, EngineLink)) == 1
    monkeypatch.setenv("VENDTRACK_TRACKING_MQTT_READER", "0")
    plain = _app(database_url, tmp_path / "i", monkeypatch)
    assert "tracking-reader" not in extra_processes(plain)
    with pytest.raises(click.ClickException) as caught:
        named_process_workers(plain, "tracking-reader")
    assert "VENDTRACK_TRACKING_MQTT_READER=1" in caught.value.message
