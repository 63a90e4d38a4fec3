"""Tag affinity end to end through the real Mosquitto: a scripted walk gives every tag the same room sequence
whether one engine hears everything or three partitions share the tags.

Each consumer's clock is its message count (every partition reads every message in the broker's order),
so the n-th message has the same time in every engine and the decisions can be compared exactly.
"""

from __future__ import annotations

import json
import secrets
import socket

import pytest
from sqlalchemy.orm import sessionmaker

from tests.support import wait_until
from tracking.engine import FloorModel, GatewaySpec, RoomChange
from tracking.pipeline import Pipeline
from tracking.sources import wire
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import Partition, owner

BROKER = ("127.0.0.1", 1883)
UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
GATEWAYS = [f"gw-{i}" for i in range(6)]  # two per room
TAGS = 9
LEGS = 4  # rooms each tag walks through
STEPS_PER_LEG = 20  # every step, each gateway hears each tag once
SECONDS_PER_MESSAGE = 0.02


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


def _room(gateway: str) -> str:
    return f"room-{int(gateway[3:]) // 2}"


def _walk(prefix: str) -> list[tuple[str, bytes]]:
    """Tag t walks rooms (t + leg) % 3: loud (-55..-57) at the room's gateways, quiet (-82) at the others."""
    messages = []
    for step in range(LEGS * STEPS_PER_LEG):
        for tag in range(TAGS):
            here = f"room-{(tag + step // STEPS_PER_LEG) % 3}"
            device = f"iBeacon:{UUID}-1-{tag}"
            for gateway in GATEWAYS:
                rssi = -55 - step % 3 if _room(gateway) == here else -82
                payload = json.dumps({"id": device, "rssi": rssi, "rssi@1m": -59}).encode()
                messages.append((f"{prefix}espresense/devices/{device}/{gateway}", payload))
    return messages


class _Engine:
    """A pipeline's engine behind a consumer of partition `index` of `count`, timed by its message count."""

    def __init__(self, prefix: str, index: int, count: int) -> None:
        self.pipeline = Pipeline(sessionmaker())
        self.pipeline.engine.set_floor(FloorModel({g: GatewaySpec(g, _room(g)) for g in GATEWAYS}, {}))
        self.consumer = MqttConsumer(self.pipeline.ingest, self.pipeline.gateway_status,
                                     ingest_one=self.pipeline.ingest_one, prefix=prefix, group=None,
                                     clock=self._now, partition=Partition(index, count),
                                     heard=self.pipeline.engine.heard)  # fmt: skip

    def _now(self) -> float:
        return 1_000.0 + self.consumer.messages * SECONDS_PER_MESSAGE


def _publish(messages: list[tuple[str, bytes]]) -> None:
    """QoS 1, a window of 100 unacknowledged messages (under the broker's receive maximum)."""
    with socket.create_connection(BROKER, timeout=10) as sock:
        sock.sendall(wire.connect(f"vtwalk-{secrets.token_hex(4)}", 30))
        pending, inflight, acked = bytearray(), 0, 0

        def read() -> int:
            pending.extend(sock.recv(65536))
            packets, used = wire.split(pending)
            del pending[:used]
            return sum(1 for p in packets if p.kind == wire.PUBACK)

        while not wire.split(pending)[0]:
            pending.extend(sock.recv(65536))
        del pending[: wire.split(pending)[1]]  # the CONNACK
        for n, (topic, payload) in enumerate(messages):
            sock.sendall(wire.publish(topic, payload, 1, n % 65535 + 1))
            inflight += 1
            while inflight >= 20:
                got = read()
                inflight, acked = inflight - got, acked + got
        while inflight:
            got = read()
            inflight, acked = inflight - got, acked + got
        sock.sendall(wire.DISCONNECT_BYTES)
    assert acked == len(messages)


def _sequences(changes: list[RoomChange]) -> dict[str, list[tuple[str | None, float]]]:
    found: dict[str, list[tuple[str | None, float]]] = {}
    for change in changes:
        found.setdefault(change.tag_key, []).append((change.to_zone, round(change.at, 6)))
    return found


@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto)")
def test_a_scripted_walk_gives_the_same_rooms_with_one_and_three_partitions() -> None:
    keys = [tag_key_from_espresense(f"iBeacon:{UUID}-1-{tag}") for tag in range(TAGS)]
    assert {owner(key, 3) for key in keys} == {0, 1, 2}  # the walk gives every partition tags of its own
    prefix = f"vtwalk-{secrets.token_hex(4)}/"
    engines = [_Engine(prefix, 0, 1)] + [_Engine(prefix, i, 3) for i in range(3)]
    for engine in engines:
        engine.consumer.start()
    messages = _walk(prefix)
    try:
        wait_until(lambda: all(e.consumer.subscribed for e in engines), timeout=15, what="four subscriptions")
        _publish(messages)
        wait_until(lambda: all(e.consumer.acked == len(messages) for e in engines), timeout=60,
                   what="every message acknowledged by every consumer")  # fmt: skip
    finally:
        for engine in engines:
            engine.consumer.stop()
    one = _sequences(engines[0].pipeline.engine.drain_changes())
    three: dict[str, list[tuple[str | None, float]]] = {}
    for engine in engines[1:]:
        part = _sequences(engine.pipeline.engine.drain_changes())
        assert not set(part) & set(three), "a tag was decided by two partitions"
        three.update(part)
    assert sorted(one) == sorted(keys)
    assert all([room for room, _ in one[key]][-LEGS:] == [f"room-{(t + leg) % 3}" for leg in range(LEGS)]
               for t, key in enumerate(keys)), one  # fmt: skip
    assert three == one
    assert sum(e.consumer.malformed for e in engines) == 0
