"""One reader per broker through the real Mosquitto: the router's walk gives every tag the same rooms with one and
with three engines, a message is acknowledged only once its engine handled it, and a QoS 1 burst through small
windows loses nothing and doubles nothing.

Engines run here as threads on socket pairs (the router does not know the difference; `bench/ingest.py` runs them
as processes). Each engine's clock is the walk's own step time carried in the message, so one engine and three
see the same times whatever else they receive.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

from core.supervisor import Supervised
from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto, Publisher, own_broker
from tests.tracking.sources.test_partition_walk import GATEWAYS, LEGS, TAGS, UUID, _room, _sequences, _walk
from tracking.engine import FloorModel, GatewaySpec
from tracking.observation import Observation
from tracking.pipeline import Pipeline
from tracking.sources import wire
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.fanout import EVERY, Router, _Loop, serve_engine
from tracking.sources.fastmqtt import BrokerConfig
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import Partition
from tracking.sources.routes import standard_routes


class _Engine:
    """A pipeline's engine behind a consumer of partition `index` of `count`, its clock the message's "t"."""

    def __init__(self, prefix: str, index: int, count: int) -> None:
        self.pipeline = Pipeline(sessionmaker())
        self.pipeline.engine.set_floor(FloorModel({g: GatewaySpec(g, _room(g)) for g in GATEWAYS}, {}))
        self.now = 0.0
        self.consumer = MqttConsumer(self.pipeline.ingest, self.pipeline.gateway_status,
                                     ingest_one=self.pipeline.ingest_one, prefix=prefix, group=None,
                                     clock=lambda: self.now, partition=Partition(index, count),
                                     heard=self.pipeline.engine.heard)  # fmt: skip

    def handle(self, topic: str, payload: bytes) -> None:
        self.now = json.loads(payload)["t"]
        self.consumer.handle(topic, payload)


@contextmanager
def _routed(prefix: str, handles: list[Callable[[str, bytes], None]], port: int = 1883,
            **options: object) -> Iterator[Router]:  # fmt: skip
    """A router on `prefix` feeding one engine thread per handle; subscribed on entry, everything stopped on exit."""
    pairs = [socket.socketpair() for _ in handles]
    router = Router([ours for ours, _ in pairs], standard_routes(prefix), BrokerConfig(port=port), prefix=prefix,
                    backoff=(0.5, 1), **options)  # type: ignore[arg-type]  # fmt: skip
    stop = threading.Event()
    threads = [threading.Thread(target=serve_engine, args=(theirs, handle, stop.is_set), daemon=True)
               for (_, theirs), handle in zip(pairs, handles, strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    router.start()
    try:
        wait_until(lambda: router.subscribed, timeout=15, what="the router's subscription")
        yield router
    finally:
        router.stop()
        stop.set()
        for thread in threads:
            thread.join(5)
        for ours, theirs in pairs:
            ours.close()
            theirs.close()


def _timed_walk(prefix: str) -> list[tuple[str, bytes]]:
    """The partition walk, each message carrying its time: 0.02 s a message, as that test's clock."""
    return [(topic, json.dumps({**json.loads(payload), "t": 1_000.0 + n * 0.02}).encode())
            for n, (topic, payload) in enumerate(_walk(prefix), start=1)]  # fmt: skip


def test_a_routed_walk_gives_the_same_rooms_with_one_and_three_engines(mosquitto: Mosquitto) -> None:
    prefix = mosquitto.prefix
    keys = [tag_key_from_espresense(f"iBeacon:{UUID}-1-{tag}") for tag in range(TAGS)]
    alone, shared = [_Engine(prefix, 0, 1)], [_Engine(prefix, i, 3) for i in range(3)]
    messages = _timed_walk(prefix)
    with (_routed(prefix, [e.handle for e in alone]) as one, _routed(prefix, [e.handle for e in shared]) as three):
        mosquitto.publisher().send_all(messages)
        wait_until(lambda: one.acked == three.acked == len(messages), timeout=60,
                   what="every message acknowledged by both routers")  # fmt: skip
    assert [e.consumer.messages for e in alone] == [len(messages)]
    received = [e.consumer.messages for e in shared]
    assert sum(received) == len(messages) and min(received) > 0  # each message to one engine, every engine some
    assert sum(e.consumer.not_ours for e in shared) == 0  # the router sent each engine only its own tags
    single = _sequences(alone[0].pipeline.engine.drain_changes())
    split: dict[str, list[tuple[str | None, float]]] = {}
    for engine in shared:
        part = _sequences(engine.pipeline.engine.drain_changes())
        assert not set(part) & set(split), "a tag was decided by two engines"
        split.update(part)
    assert sorted(single) == sorted(keys)
    assert all([room for room, _ in single[key]][-LEGS:] == [f"room-{(t + leg) % 3}" for leg in range(LEGS)]
               for t, key in enumerate(keys)), single  # fmt: skip
    assert split == single


def test_a_message_is_acknowledged_only_after_its_engine_handled_it(mosquitto: Mosquitto) -> None:
    release, got = threading.Event(), []

    def slow(topic: str, payload: bytes) -> None:
        release.wait(10)
        got.append(topic)

    device = f"iBeacon:{UUID}-1-1"
    with _routed(mosquitto.prefix, [slow]) as router:
        mosquitto.publisher().send(f"{mosquitto.prefix}espresense/devices/{device}/gw-0", b'{"rssi": -60}')
        wait_until(lambda: router.routed == 1, what="the message at the router")
        assert router.acked == 0 and got == []  # forwarded, not yet handled: not acknowledged
        release.set()
        wait_until(lambda: router.acked == 1, what="the PUBACK after the engine handled it")
    assert len(got) == 1


def test_a_burst_through_small_windows_loses_nothing() -> None:
    total, tags = 20_000, 50
    devices = [f"iBeacon:{UUID}-2-{n}" for n in range(tags)]
    kept: list[Counter[str]] = [Counter() for _ in range(3)]

    def engine(index: int) -> Callable[[str, bytes], None]:
        def handle(observations: list[Observation]) -> None:
            kept[index].update(o.tag_key for o in observations)

        consumer = MqttConsumer(handle, lambda *_: None, prefix="burst/", partition=Partition(index, 3))
        return consumer.handle

    with own_broker(queue=2 * total) as port:
        handles = [engine(i) for i in range(3)]
        with _routed("burst/", handles, port, receive_maximum=64, engine_window=16) as router:
            publisher = Publisher(port)
            publisher.send_all(((f"burst/espresense/devices/{devices[n % tags]}/gw-{n % 4}",
                                 json.dumps({"id": devices[n % tags], "rssi": -60 - n % 9}))
                                for n in range(total)), window=500)  # fmt: skip
            publisher.close()
            wait_until(lambda: router.acked == total, timeout=120, what=f"{total} messages acknowledged")
            assert router.routed == total and router.held_back > 0  # the windows were full at times: held back
    counts = sum(kept, Counter())
    assert counts == Counter({tag_key_from_espresense(d): total // tags for d in devices})
    assert not set(kept[0]) & set(kept[1]) and not set(kept[1]) & set(kept[2]) and not set(kept[0]) & set(kept[2])


def test_the_router_sends_a_tag_to_its_owner_and_what_names_no_tag_to_every_engine() -> None:
    links = [socket.socketpair() for _ in range(3)]
    try:
        router = Router([ours for ours, _ in links], standard_routes("site/"), prefix="site/")
        for n in range(30):
            device = f"iBeacon:{UUID}-1-{n}"
            owner_of = Partition.parse  # the same arithmetic as the partitions: crc32(tag key) % 3
            expected = next(i for i in range(3) if owner_of(f"{i}/3").owns(tag_key_from_espresense(device)))
            assert router.route(f"site/espresense/devices/{device}/gw-{n % 4}") == expected
        for topic in ("site/espresense/rooms/gw-1/status", "site/home/gw-a/BTtoMQTT/AA0000000001",
                      "site/vendtrack/adverts/gw-raw", "site/ingics/gw-x", "other/espresense/devices/x/gw-1"):
            assert router.route(topic) == EVERY, topic  # fmt: skip
    finally:
        for ours, theirs in links:
            ours.close()
            theirs.close()



def test_pubacks_follow_the_broker_order_and_wait_for_every_engine_a_message_went_to() -> None:
    """The read loop's bookkeeping against a plain model, over random reads (QoS 1 and 0, some messages for every
    engine) and random confirmations: after each read, exactly the longest prefix of messages whose engines all
    handled them is acknowledged, in the broker's order; each engine receives its own messages, in order."""
    rng = random.Random(13)
    links = [socket.socketpair() for _ in range(3)]
    router = Router([ours for ours, _ in links], standard_routes("m/"), prefix="m/")
    loop = _Loop(router, links[0][0], Supervised("test-loop", lambda _s: None), bytearray())
    model: list[tuple[int, dict[int, int]]] = []  # (packet id, 0 for QoS 0; {engine: its sequence number})
    seqs, received, acked = [0, 0, 0], [bytearray() for _ in links], bytearray()
    expected_topics: list[list[str]] = [[], [], []]
    try:
        for _read in range(300):
            packets = bytearray()
            for _ in range(rng.randrange(0, 40)):
                packet_id = rng.choice((0, rng.randrange(1, 65536)))
                topic = (f"m/espresense/devices/iBeacon:{UUID}-3-{rng.randrange(40)}/gw-1" if rng.random() < 0.95
                         else "m/espresense/rooms/gw-1/status")  # fmt: skip
                owner_of = router.route(topic)
                engines = range(3) if owner_of == EVERY else [owner_of]
                for engine in engines:
                    seqs[engine] += 1
                    expected_topics[engine].append(topic)
                model.append((packet_id, {engine: seqs[engine] for engine in engines}))
                packets += wire.publish(topic, b"{}", 1 if packet_id else 0, packet_id)
            loop.buffer[loop.have : loop.have + len(packets)] = packets
            loop.have += len(packets)
            loop._shift(loop._forward())
            for (_, theirs), got in zip(links, received, strict=True):
                theirs.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    while chunk := theirs.recv(1 << 20):
                        got += chunk
            if rng.random() < 0.7:  # some engines confirm some of what they have
                router.done[:] = [rng.randrange(d, s + 1) for d, s in zip(router.done, seqs, strict=True)]
            acked += loop._acks()
            prefix = next((n for n, (_, need) in enumerate(model)
                           if any(router.done[e] < s for e, s in need.items())), len(model))  # fmt: skip
            assert acked == b"".join(wire.puback(pid) for pid, _ in model[:prefix] if pid)
        router.done[:] = seqs
        acked += loop._acks()
        assert acked == b"".join(wire.puback(pid) for pid, _ in model if pid)
        assert router.acked == sum(1 for pid, _ in model if pid) and router.routed == len(model)
        for got, topics in zip(received, expected_topics, strict=True):
            packets, used = wire.split(got)
            assert used == len(got) and [wire.read_publish(p).topic for p in packets] == topics
        assert not loop.order and not loop.ids and not loop.reads and not loop.every
    finally:
        for ours, theirs in links:
            ours.close()
            theirs.close()
