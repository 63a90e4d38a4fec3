"""Load for the real-broker part of bench/ingest.py: a fast QoS 1 publisher and consumer processes that count.

The publisher speaks MQTT 5 from `tracking.sources.wire` over one socket, keeps as many QoS 1 messages in
flight as the broker's Receive Maximum allows and counts PUBACKs. Each consumer process runs
`MqttConsumer` (partition i of n) feeding a location engine, and reports through shared counters, with
its own CPU time. `private_broker` starts a Mosquitto of the bench's own with the queue limits that
docs/scaling.md asks for (a burst must fit the broker's queue: MQTT has no back-pressure on a publisher).
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from tracking.engine import FloorModel, GatewaySpec
from tracking.pipeline import Pipeline
from tracking.sources import wire
from tracking.sources.fanout import Router, serve_engine
from tracking.sources.fastmqtt import BrokerConfig, feed
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import Partition
from tracking.sources.routes import standard_routes

UUID_HEX = "f7826da64fa24e988024bc5b71e0893e"
HEARD_BY = 8


def messages(count: int, tags: int, gateways: int, prefix: str) -> Iterator[tuple[str, bytes]]:
    ids = [f"iBeacon:{uuid.UUID(hex=UUID_HEX)}-{1 + i // 1000}-{i % 1000}" for i in range(tags)]
    for n in range(count):  # each tag heard in turn by the 8 gateways nearest to it, as in bench/ingest.py (a)
        tag = n % tags
        gateway = (tag * 7 + (n // tags) % HEARD_BY) % gateways
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


def consume(index: int, count: int, prefix: str, host: str, port: int, gateways: int, ready: Any,
            handled: Synchronized, owned: Synchronized, cpu: Synchronized, stop: Any) -> None:  # fmt: skip
    """One consumer process: partition `index` of `count`, counting what it handled and what it kept."""
    consumer = _consumer(index, count, prefix, host, port, gateways)
    consumer.start()
    while not consumer.connected:
        time.sleep(0.01)
    ready.set()
    start = time.process_time()
    while not stop.wait(0.05):
        handled.value, owned.value = consumer.messages, consumer.observations
        cpu.value = time.process_time() - start
    consumer.stop()
    handled.value, owned.value = consumer.messages, consumer.observations


def engine(index: int, count: int, link: socket.socket, prefix: str, gateways: int, ready: Any,
           handled: Synchronized, owned: Synchronized, cpu: Synchronized, stop: Any) -> None:  # fmt: skip
    """One engine process behind the router (`fanout.serve_engine` on its end of a socket pair), counting."""
    consumer = _consumer(index, count, prefix, "127.0.0.1", 1, gateways)
    done = threading.Event()
    thread = threading.Thread(target=serve_engine, args=(link, consumer.handle, done.is_set), daemon=True)
    thread.start()
    ready.set()
    start = time.process_time()
    while not stop.wait(0.05):
        handled.value, owned.value = consumer.messages, consumer.observations
        cpu.value = time.process_time() - start
    done.set()
    thread.join(5)
    handled.value, owned.value = consumer.messages, consumer.observations


def route(links: list[socket.socket], prefix: str, host: str, port: int, ready: Any, cpu: Synchronized,
          stop: Any) -> None:  # fmt: skip
    """The one reader: subscribes, routes every message by tag to the engines' sockets."""
    router = Router(links, standard_routes(prefix), BrokerConfig(host, port), prefix=prefix)
    router.start()
    while not router.subscribed:
        time.sleep(0.01)
    ready.set()
    start = time.process_time()
    while not stop.wait(0.05):
        cpu.value = time.process_time() - start
    router.stop()


def _consumer(index: int, count: int, prefix: str, host: str, port: int, gateways: int) -> MqttConsumer:
    """An `MqttConsumer` for partition `index` of `count`, feeding a pipeline's engine on a 40-gateway floor."""
    pipeline = Pipeline(sessionmaker())
    specs = {f"gw-{i:02d}": GatewaySpec(f"gw-{i:02d}", f"room-{i // 2:02d}", 0.0) for i in range(gateways)}
    pipeline.engine.set_floor(FloorModel(specs, {}))
    return MqttConsumer(pipeline.ingest, pipeline.gateway_status, ingest_one=pipeline.ingest_one, host=host,
                        port=port, prefix=prefix, group=f"vtbench{prefix[-5:-1]}",
                        partition=Partition(index, count), heard=pipeline.engine.heard)  # fmt: skip


def run(processes: int, total: int, tags: int, gateways: int, host: str, port: int,
        broker_pid: int | None = None, routed: bool = False) -> dict[str, float]:  # fmt: skip
    """Start the consumers, publish `total`, wait until they kept them all (or went quiet); figures. `routed`:
    one reader process holds the only subscription and routes by tag to `processes` engine processes."""
    prefix = f"vtbench-{uuid.uuid4().hex[:6]}/"
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    readies, handled, owned, cpus, procs = [], [], [], [], []
    pairs = [socket.socketpair() for _ in range(processes)] if routed else []
    router_cpu = ctx.Value("d", 0.0)
    if routed:
        ready = ctx.Event()
        procs.append(ctx.Process(target=route, args=([a for a, _ in pairs], prefix, host, port, ready, router_cpu,
                                                     stop)))  # fmt: skip
        procs[-1].start()
        readies.append(ready)
    for i in range(processes):
        ready, h, o, c = ctx.Event(), ctx.Value("q", 0), ctx.Value("q", 0), ctx.Value("d", 0.0)
        if routed:
            proc = ctx.Process(target=engine, args=(i, processes, pairs[i][1], prefix, gateways, ready, h, o, c, stop))
        else:
            proc = ctx.Process(target=consume, args=(i, processes, prefix, host, port, gateways, ready, h, o, c, stop))
        proc.start()
        readies.append(ready)
        handled.append(h)
        owned.append(o)
        cpus.append(c)
        procs.append(proc)
    for ready in readies:
        if not ready.wait(30):
            raise SystemExit("a consumer process did not connect to the broker within 30 s")
    broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
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
    broker_cpu = cpu_seconds(broker_pid) - broker_before if broker_pid else float("nan")
    stop.set()
    for proc in procs:
        proc.join(30)
    kept = sum(o.value for o in owned)
    return {"sent": acked, "kept": kept, "lost": total - kept, "seconds": done - start,
            "rate": kept / (done - start), "publish_rate": acked / publish_s, "broker_cpu": broker_cpu,
            "consumer_cpu_max": max(c.value for c in cpus), "consumer_cpu_sum": sum(c.value for c in cpus),
            "router_cpu": router_cpu.value}  # fmt: skip


def wire_reads(total: int, tags: int, gateways: int) -> list[bytearray]:
    """The stream's bytes as a broker sends them to a consumer (QoS 1 PUBLISH packets), cut into 1 MB reads."""
    packets = (wire.publish(t, p, 1, n % 65535 + 1) for n, (t, p) in enumerate(messages(total, tags, gateways, "")))
    stream = b"".join(packets)
    return [bytearray(stream[i : i + (1 << 20)]) for i in range(0, len(stream), 1 << 20)]


def wire_cpu(index: int, processes: int, reads: list[bytearray], total: int, gateways: int) -> float:
    """CPU seconds partition `index` of `processes` spends on the whole stream's `reads` (`total` messages),
    fed to `fastmqtt.feed` and the consumer's engine in this process: the consumer's cost with no broker."""
    consumer = _consumer(index, processes, "", "127.0.0.1", 1, gateways)
    acks, pending = bytearray(), bytearray()
    gc.collect()  # the previous run's engine is garbage now: each starts from the heap a process would
    start = time.process_time()
    for chunk in reads:
        pending += chunk
        used, _ = feed(pending, len(pending), consumer.handle, acks, consumer.foreign)
        del pending[:used]
        acks.clear()
    spent = time.process_time() - start
    if consumer.observations + consumer.not_ours != total or consumer.messages != total:
        raise SystemExit(f"partition {index}: {consumer.counters} (some messages were not handled)")
    return spent


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BROKER_CONFIG = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages {queue}
max_queued_bytes 0
max_inflight_messages 1000
"""


@contextlib.contextmanager
def private_broker(queue: int) -> Iterator[tuple[int, int] | None]:
    """A Mosquitto of our own on a free port, queueing up to `queue` messages per client: (port, pid), or None
    when no `mosquitto` binary is installed. Stopped on exit."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(BROKER_CONFIG.format(port=port, queue=queue))
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"the bench's own mosquitto did not start on port {port}")
                time.sleep(0.05)
            yield port, proc.pid
        finally:
            proc.terminate()
            proc.wait(10)
