"""The MQTT source against the real Mosquitto on 127.0.0.1:1883, on topics private to this test run."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import wait_until
from tests.tracking.conftest import advert_hex
from tests.tracking.mosquitto import BROKER, Mosquitto
from tracking.observation import Observation
from tracking.sources.mqtt import MqttConsumer


class Sink:
    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.status: list[tuple[str, bool]] = []
        self.lock = threading.Lock()

    def ingest(self, batch: list[Observation]) -> None:
        with self.lock:
            self.observations.extend(batch)

    def gateway_status(self, gateway_id: str, online: bool) -> None:
        self.status.append((gateway_id, online))


def _wait(condition: Callable[[], object], seconds: float = 10.0, what: str = "the condition") -> None:
    wait_until(condition, timeout=seconds, what=what, every=0.02)


def _heard_by_all(client: mqtt.Client, prefix: str, sinks: list[Sink], name: str = "probe") -> None:
    """Publish status probes until every consumer got one: its subscription is in place (a message
    published before that is lost), and what was published before the first probe has been delivered."""

    def all_heard() -> bool:
        _publish_and_wait(client, f"{prefix}espresense/rooms/{name}/status", "online")
        return all((name, True) in sink.status for sink in sinks)

    wait_until(all_heard, timeout=15, what=f"every consumer to receive the {name!r} status probe", every=0.05)


def _real(status: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    return [entry for entry in status if entry[0] not in ("probe", "fence")]


@pytest.fixture
def publisher() -> Iterator[mqtt.Client]:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(*BROKER)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


def _publish_and_wait(client: mqtt.Client, topic: str, payload: str) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def test_espresense_status_raw_and_malformed(mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    sink, prefix = Sink(), mosquitto.prefix
    consumer = mosquitto.consumer(sink.ingest, sink.gateway_status, group=f"g{secrets.token_hex(3)}")
    try:
        before = consumer.counters["messages"]
        device = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-7"
        payload = json.dumps({"id": device, "rssi": -71, "rssi@1m": -59, "mV": 2950, "distance": 2.1})
        _publish_and_wait(publisher, f"{prefix}espresense/devices/{device}/icu-1", payload)
        _publish_and_wait(publisher, f"{prefix}espresense/rooms/icu-1/status", "offline")
        raw = {"adverts": [{"address": "AA:BB", "rssi": -66, "data": advert_hex(9)}, {"rssi": 1}]}
        _publish_and_wait(publisher, f"{prefix}vendtrack/adverts/gw-raw", json.dumps(raw))
        _publish_and_wait(publisher, f"{prefix}espresense/devices/x/icu-1", "{not json")
        _publish_and_wait(publisher, f"{prefix}espresense/devices/x/icu-1", json.dumps({"rssi": "loud"}))
        _wait(lambda: consumer.counters["messages"] >= before + 5, what="the five messages")
    finally:
        consumer.stop()
    first, second = sink.observations
    assert (first.gateway_id, first.tag_key, first.rssi, first.ref_power, first.battery_mv) == (
        "icu-1", "ib-e2c56db5dffb48d2b060d0f5a71096e0-1-7", -71, -59, 2950,
    )  # fmt: skip
    assert (second.gateway_id, second.tag_key) == ("gw-raw", "ib-e2c56db5dffb48d2b060d0f5a71096e0-1-9")
    assert _real(sink.status) == [("icu-1", False)]
    assert consumer.counters["malformed"] == 3  # one bad batch entry, one bad JSON, one bad field


def test_shared_subscription_splits_the_load(mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    group, prefix = f"g{secrets.token_hex(3)}", mosquitto.prefix
    sinks = [Sink(), Sink()]
    consumers = [mosquitto.consumer(sink.ingest, sink.gateway_status, group=group) for sink in sinks]
    try:
        device = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-1"
        for i in range(200):
            payload = json.dumps({"id": device, "rssi": -60 - i % 20})
            publisher.publish(f"{prefix}espresense/devices/{device}/room-{i % 4}", payload, qos=1)
        _wait(lambda: sum(len(s.observations) for s in sinks) >= 200, what="200 observations")
        _heard_by_all(publisher, prefix, sinks, "fence")  # anything doubled would have arrived before this
    finally:
        for consumer in consumers:
            consumer.stop()
    counts = [len(s.observations) for s in sinks]
    assert sum(counts) == 200 and min(counts) > 0, counts


class _Forwarder:
    """A TCP relay to the broker that is started later: the consumer must reconnect on its own."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.server: socket.socket | None = None

    def start(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.server is not None
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(BROKER)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def test_reconnects_with_backoff_when_the_broker_comes_up(mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    relay = _Forwarder()
    sink, prefix = Sink(), mosquitto.prefix
    consumer = MqttConsumer(sink.ingest, sink.gateway_status, port=relay.port, prefix=prefix, group=None,
                            backoff=(1, 2))  # fmt: skip
    mosquitto.run(consumer)  # nothing listens at the relay's port yet
    try:
        _wait(lambda: consumer.supervisor.outages, what="a failed connection attempt")
        assert not consumer.connected
        relay.start()
        mosquitto.subscribed(consumer)
        device = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-2"
        _publish_and_wait(publisher, f"{prefix}espresense/devices/{device}/r1", json.dumps({"id": device, "rssi": -50}))
        _wait(lambda: len(sink.observations) == 1)
    finally:
        consumer.stop()
        relay.close()


def test_espresense_eddystone_ids_name_the_same_tag_as_our_decoder() -> None:
    from firmware_bridge.ble.decode import decode_eddystone
    from tracking.sources.espresense import tag_key_from_espresense

    namespace, instance = bytes.fromhex("edd1ebeac04e5defa017"), bytes.fromhex("0a0b0c0d0e0f")
    frame = bytes([0x00, 0xEE]) + namespace + instance + b"\x00\x00"  # UID frame, tx power -18 dBm at 0 m
    ours = decode_eddystone(frame)
    assert ours is not None and ours.tag_key == "eu-edd1ebeac04e5defa017-0a0b0c0d0e0f"
    # ESPresense prints the namespace's fifth byte twice: bytes 2,3,4,5,6,6,7,...,11 of the frame
    printed = namespace[:5] + namespace[4:5] + namespace[5:]
    assert tag_key_from_espresense(f"eddy:{printed.hex()}-{instance.hex()}") == ours.tag_key
    assert tag_key_from_espresense(f"eddy:{namespace.hex()}-{instance.hex()}") == ours.tag_key  # a fixed firmware
    for odd in ("eddy:nothex-0a0b0c0d0e0f", "eddy:edd1ebeac04e5defa017-0a0b", "eddy:abc-def"):
        assert tag_key_from_espresense(odd) == f"esp-{odd}"  # not guessed: kept as its own tag
