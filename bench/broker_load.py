"""Load for the real-broker part of bench/ingest.py: a fast QoS 1 publisher and consumer processes that count.

The publisher speaks MQTT 5 from `tracking.sources.wire` over one socket, keeps as many QoS 1 messages in
flight as the broker's Receive Maximum allows and counts PUBACKs. Each consumer process runs
`MqttConsumer` (partition i of n) feeding a location engine, and reports through shared counters.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import time
import uuid
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from tracking.sources import wire

UUID_HEX = "f7826da64fa24e988024bc5b71e0893e"


def messages(count: int, tags: int, gateways: int, prefix: str) -> Iterator[tuple[str, bytes]]:
    ids = [f"iBeacon:{uuid.UUID(hex=UUID_HEX)}-{1 + i // 1000}-{i % 1000}" for i in range(tags)]
    for n in range(count):
        tag, gateway = n % tags, (n // tags + n) % gateways
        payload = {"id": ids[tag], "idType": 1, "rssi@1m": -59, "rssi": -60 - n % 20, "raw": 2.5, "distance": 2.3,
                   "int": 1000}  # fmt: skip
        yield f"{prefix}espresense/devices/{ids[tag]}/gw-{gateway:02d}", json.dumps(payload).encode()


def publish(count: int, tags: int, gateways: int, prefix: str, host: str, port: int) -> tuple[int, float]:
    """Publish `count` QoS 1 messages; returns (PUBACKs received, seconds)."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(wire.connect(f"vtbench-pub-{uuid.uuid4().hex[:8]}", 60))
    pending = bytearray()
    while True:
        pending += sock.recv(65536)
        packets, used = wire.split(pending)
        if packets:
            window = wire.connack_receive_maximum(packets[0])
            del pending[:used]
            break
    window = min(window, 60000)
    inflight = acked = 0
    start = time.perf_counter()
    out: list[bytes] = []
    for n, (topic, payload) in enumerate(messages(count, tags, gateways, prefix)):
        out.append(wire.publish(topic, payload, 1, n % 65535 + 1))
        inflight += 1
        if len(out) >= 256 or inflight >= window:
            sock.sendall(b"".join(out))
            out.clear()
        while inflight >= window:
            got = _read_acks(sock, pending)
            inflight -= got
            acked += got
    if out:
        sock.sendall(b"".join(out))
    while inflight:
        got = _read_acks(sock, pending)
        inflight -= got
        acked += got
    seconds = time.perf_counter() - start
    sock.sendall(wire.DISCONNECT_BYTES)
    sock.close()
    return acked, seconds


def _read_acks(sock: socket.socket, pending: bytearray) -> int:
    chunk = sock.recv(1 << 20)
    if not chunk:
        raise SystemExit("the broker closed the publisher's connection (receive maximum exceeded?)")
    pending += chunk
    packets, used = wire.split(pending)
    del pending[:used]
    return sum(1 for p in packets if p.kind == wire.PUBACK)


def consume(index: int, count: int, prefix: str, host: str, port: int, gateways: int,
            ready: Any, handled: Synchronized, owned: Synchronized, stop: Any) -> None:  # fmt: skip
    """One consumer process: partition `index` of `count`, counting what it handled and what it kept."""
    from sqlalchemy.orm import sessionmaker

    from tracking.engine import FloorModel, GatewaySpec
    from tracking.pipeline import Pipeline
    from tracking.sources.mqtt import MqttConsumer
    from tracking.sources.partition import Partition

    pipeline = Pipeline(sessionmaker())
    specs = {f"gw-{i:02d}": GatewaySpec(f"gw-{i:02d}", f"room-{i // 2:02d}", 0.0) for i in range(gateways)}
    pipeline.engine.set_floor(FloorModel(specs, {}))
    consumer = MqttConsumer(pipeline.ingest, pipeline.gateway_status, ingest_one=pipeline.ingest_one,
                                host=host, port=port, prefix=prefix, group=f"vtbench{prefix[-5:-1]}",
                                partition=Partition(index, count), heard=pipeline.engine.heard)  # fmt: skip
    consumer.start()
    while not consumer.connected:
        time.sleep(0.01)
    ready.set()
    while not stop.wait(0.05):
        handled.value, owned.value = consumer.messages, consumer.observations
    consumer.stop()
    handled.value, owned.value = consumer.messages, consumer.observations


def run(processes: int, total: int, tags: int, gateways: int, host: str, port: int) -> dict[str, float]:
    """Start the consumers, publish `total`, wait until they kept them all (or went quiet); figures."""
    prefix = f"vtbench-{uuid.uuid4().hex[:6]}/"
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    readies, handled, owned, procs = [], [], [], []
    for i in range(processes):
        ready, h, o = ctx.Event(), ctx.Value("q", 0), ctx.Value("q", 0)
        proc = ctx.Process(target=consume, args=(i, processes, prefix, host, port, gateways, ready, h, o, stop))
        proc.start()
        readies.append(ready), handled.append(h), owned.append(o), procs.append(proc)
    for ready in readies:
        if not ready.wait(30):
            raise SystemExit("a consumer process did not connect to the broker within 30 s")
    start = time.perf_counter()
    acked, publish_s = publish(total, tags, gateways, prefix, host, port)
    last, quiet_since = -1, time.perf_counter()
    while True:
        kept = sum(o.value for o in owned)
        if kept >= total:
            break
        if kept != last:
            last, quiet_since = kept, time.perf_counter()
        elif time.perf_counter() - quiet_since > 10:
            break
        time.sleep(0.02)
    done = time.perf_counter() - (10 if kept < total else 0)
    stop.set()
    for proc in procs:
        proc.join(30)
    kept = sum(o.value for o in owned)
    return {"sent": acked, "kept": kept, "lost": total - kept, "seconds": done - start,
            "rate": kept / (done - start), "publish_rate": acked / publish_s}  # fmt: skip
