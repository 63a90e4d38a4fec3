"""Load for the real-broker part of bench/ingest.py: a fast QoS 1 publisher and consumer processes that count.

The publisher speaks MQTT 5 from `tracking.sources.wire` over one socket, keeps as many QoS 1 messages in
flight as the broker's Receive Maximum allows and counts PUBACKs. The consumers are `reader_load.Shape`s: one
subscribed `MqttConsumer`, N subscribed partitions, or the product's reader and N engine processes; each
process's CPU time is read from /proc. `private_broker` starts a Mosquitto of the bench's own with the queue limits that
docs/scaling.md asks for (a burst must fit the broker's queue: MQTT has no back-pressure on a publisher).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from reader_load import Shape, cpu_seconds

from tracking.sources import wire
from tracking.sources.fastmqtt import BrokerConfig

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


def run(processes: int, total: int, tags: int, gateways: int, host: str, port: int,
        broker_pid: int | None = None, routed: bool = False) -> dict[str, float]:  # fmt: skip
    """Start the consumers, publish `total`, wait until they kept them all (or went quiet); figures. `routed`:
    the product's reader wiring, one `ReaderWorker` process holding the only subscription and routing by tag to
    `processes` engine processes (`EngineLink`); otherwise `processes` subscribed partitions."""
    shape = Shape(processes, routed, f"vtbench-{uuid.uuid4().hex[:6]}/", BrokerConfig(host, port), gateways)
    shape.start()
    try:
        before, broker_before = shape.cpu(), cpu_seconds(broker_pid) if broker_pid else 0.0
        start = time.perf_counter()
        acked, publish_s = publish(total, tags, gateways, shape.prefix, host, port)
        last, quiet_since = -1, time.perf_counter()
        while (kept := shape.kept) < total:
            if kept != last:
                last, quiet_since = kept, time.perf_counter()
            elif time.perf_counter() - quiet_since > 10:
                break
            time.sleep(0.02)
        done = time.perf_counter() - (10 if kept < total else 0)
        broker_cpu = cpu_seconds(broker_pid) - broker_before if broker_pid else float("nan")
        spent = [after - first for after, first in zip(shape.cpu(), before, strict=True)]
    finally:
        shape.close()
    router_cpu, consumers = (spent[0], spent[1:]) if routed else (0.0, spent)
    return {"sent": acked, "kept": kept, "lost": total - kept, "seconds": done - start,
            "rate": kept / (done - start), "publish_rate": acked / publish_s, "broker_cpu": broker_cpu,
            "consumer_cpu_max": max(consumers), "consumer_cpu_sum": sum(consumers),
            "router_cpu": router_cpu}  # fmt: skip


def wire_packets(total: int, tags: int, gateways: int) -> Iterator[bytes]:
    """The stream as a broker sends it to a consumer: QoS 1 PUBLISH packets, packet ids 1-65535 in turn."""
    for n, (topic, payload) in enumerate(messages(total, tags, gateways, "")):
        yield wire.publish(topic, payload, 1, n % 65535 + 1)


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
