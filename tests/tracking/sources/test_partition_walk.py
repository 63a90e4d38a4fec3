"""Tag affinity end to end through the real Mosquitto: a scripted walk gives every tag the same room sequence
whether one engine hears everything or three partitions share the tags.

Each consumer's clock is its message count (every partition reads every message in the broker's order),
so the n-th message has the same time in every engine and the decisions can be compared exactly.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import sessionmaker

from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto
from tracking.engine import FloorModel, GatewaySpec, RoomChange
from tracking.pipeline import Pipeline
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import Partition, owner

UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
GATEWAYS = [f"gw-{i}" for i in range(6)]  # two per room
TAGS = 9
LEGS = 4  # rooms each tag walks through
STEPS_PER_LEG = 20  # every step, each gateway hears each tag once
SECONDS_PER_MESSAGE = 0.02


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


def _sequences(changes: list[RoomChange]) -> dict[str, list[tuple[str | None, float]]]:
    found: dict[str, list[tuple[str | None, float]]] = {}
    for change in changes:
        found.setdefault(change.tag_key, []).append((change.to_zone, round(change.at, 6)))
    return found


def test_a_scripted_walk_gives_the_same_rooms_with_one_and_three_partitions(mosquitto: Mosquitto) -> None:
    keys = [tag_key_from_espresense(f"iBeacon:{UUID}-1-{tag}") for tag in range(TAGS)]
    assert {owner(key, 3) for key in keys} == {0, 1, 2}  # the walk gives every partition tags of its own
    engines = [_Engine(mosquitto.prefix, 0, 1)] + [_Engine(mosquitto.prefix, i, 3) for i in range(3)]
    mosquitto.start(*(engine.consumer for engine in engines))
    messages = _walk(mosquitto.prefix)
    mosquitto.publisher().send_all(messages)
    wait_until(lambda: all(e.consumer.acked == len(messages) for e in engines), timeout=60,
               what="every message acknowledged by every consumer")  # fmt: skip
    mosquitto.close()
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
