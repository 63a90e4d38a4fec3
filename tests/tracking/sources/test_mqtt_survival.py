"""The MQTT consumer over the real Mosquitto (127.0.0.1:1883, topics private to each test): bad messages cost only
themselves, an error on one message costs only that message, and a session that dies anyway is restarted."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.heartbeats import WorkerKind, WorkerState
from tests.support import wait_until
from tests.tracking.mosquitto import BROKER, Mosquitto
from tracking.observation import Observation
from tracking.sources.mqtt import MqttConsumer

DEVICE = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-{}"
UUID = "e2c56db5dffb48d2b060d0f5a71096e0"


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    wait_until(condition, timeout=seconds, every=0.05)


@pytest.fixture
def publisher() -> Iterator[mqtt.Client]:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(*BROKER)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


class Sink:
    def __init__(self, fail_on: Callable[[Observation], BaseException | None] = lambda _obs: None) -> None:
        self.observations: list[Observation] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def ingest(self, batch: list[Observation]) -> None:
        for obs in batch:
            error = self.fail_on(obs)
            if error is not None:
                raise error
        with self.lock:
            self.observations.extend(batch)

    def minors(self) -> list[int]:
        with self.lock:
            return [int(o.tag_key.rsplit("-", 1)[1]) for o in self.observations if o.tag_key.startswith("ib-")]


def _started(sink: Sink, mosquitto: Mosquitto) -> MqttConsumer:
    return mosquitto.consumer(sink.ingest, group=None, backoff=(0.2, 1.0))


def _good(minor: int) -> bytes:
    return json.dumps({"id": DEVICE.format(minor), "rssi": -65, "rssi@1m": -59, "mV": 3000}).encode()


def _send(client: mqtt.Client, topic: str, payload: bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(5)


HOSTILE: list[tuple[bytes, str]] = [
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": NaN}', "rssi:not_finite"),
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": Infinity}', "rssi:not_finite"),
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": 1e400}', "rssi:not_finite"),
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": -60, "rssi@1m": NaN}', "rssi@1m:not_finite"),
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": -60, "mV": 1e400}', "mV:not_finite"),
    (b'{"id": "' + DEVICE.format(1).encode() + b'", "rssi": 500}', "rssi:out_of_range"),
    (b'{"id": "a\\u0000b", "rssi": -60}', "id:control_characters"),
    (b'{"id": "' + b"x" * 100_000 + b'", "rssi": -60}', "payload:too_large"),
    (b"[" * 2000 + b"]" * 2000, "payload:too_deep"),
    (b"\xff\xfe not json", "payload:not_json"),
    (b'{"id": 7, "rssi": -60}', "id:wrong_type"),
]


def test_hostile_messages_among_good_ones_lose_only_themselves(mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    sink = Sink()
    consumer, prefix = _started(sink, mosquitto), mosquitto.prefix
    try:
        topic = f"{prefix}espresense/devices/x/icu-1"
        minor = 100
        for payload, _reason in HOSTILE:
            _send(publisher, topic, _good(minor))
            _send(publisher, topic, payload)
            minor += 1
        odd = DEVICE.format(1).replace("-1-1", "-x-2")  # the id that used to raise ValueError: a tag of its own now
        _send(publisher, topic, json.dumps({"id": odd, "rssi": -61}).encode())
        _send(publisher, topic, _good(minor))
        wait_for(lambda: len(sink.observations) == len(HOSTILE) + 2)
    finally:
        consumer.stop()
    assert sink.minors() == list(range(100, minor + 1))
    expected: dict[str, int] = {}
    for _payload, reason in HOSTILE:
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(consumer.stats.rejected) == expected
    assert consumer.supervisor.restarts == 0 and not consumer.stats.errors


def test_an_error_on_one_message_is_counted_and_the_next_is_handled(
    mosquitto: Mosquitto, publisher: mqtt.Client
) -> None:
    sink = Sink(lambda obs: RuntimeError("engine bug") if obs.tag_key.endswith("-1-13") else None)
    consumer, prefix = _started(sink, mosquitto), mosquitto.prefix
    try:
        for minor in (12, 13, 14):
            _send(publisher, f"{prefix}espresense/devices/x/icu-1", _good(minor))
        wait_for(lambda: sink.minors() == [12, 14])
        beat = consumer.heartbeat()
    finally:
        consumer.stop()
    assert consumer.stats.errors == {"RuntimeError": 1} and consumer.supervisor.restarts == 0
    assert (beat.kind, beat.state, beat.counters["accepted"], beat.counters["error:RuntimeError"]) == (
        WorkerKind.INGESTER, WorkerState.RUNNING, 2, 1,
    )  # fmt: skip


def test_a_session_that_dies_anyway_is_restarted_with_backoff(mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    # SystemExit gets past the per-message guard and out of paho's loop: the session ends, the supervisor restarts it
    sink = Sink(lambda obs: SystemExit("torn down") if obs.tag_key.endswith("-1-21") else None)
    consumer, prefix = _started(sink, mosquitto), mosquitto.prefix
    try:
        _send(publisher, f"{prefix}espresense/devices/x/icu-1", _good(20))
        _send(publisher, f"{prefix}espresense/devices/x/icu-1", _good(21))
        wait_for(lambda: consumer.supervisor.restarts == 1)
        assert "SystemExit" in consumer.supervisor.last_error
        wait_for(lambda: consumer.subscribed and consumer.supervisor.state == WorkerState.RUNNING)
        _send(publisher, f"{prefix}espresense/devices/x/icu-1", _good(22))
        wait_for(lambda: sink.minors() == [20, 22])
    finally:
        consumer.stop()
    assert consumer.connects == 2 and not consumer.supervisor.is_alive()
    assert consumer.supervisor.state == WorkerState.STOPPED
