"""Process shapes for bench/ingest.py (d) and (e): one consumer, or the reader and its engines as serve wires them.

`Shape.start` forks either one `MqttConsumer` process (subscribed, as a single engine runs) or the product's reader
wiring: one process running `tracking.reader.ReaderWorker` (the broker's only subscription, listening on a Unix
socket) and N processes each running an `EngineLink` into its own `MqttConsumer` (partition i of N), the classes
`vendtrack serve` starts with `VENDTRACK_TRACKING_MQTT_READER=1`. Each process's CPU is read from /proc, so the
reader counts as a process of its own, as it is under serve (its `tracking-reader` process).

`replay_broker` is the broker of (d): a minimal MQTT 5 server in a process of its own that serves one client a
stream of QoS 1 PUBLISH packets prepared in advance, holding at most the client's Receive Maximum unacknowledged
and counting PUBACKs, so the consumers' cost is measured without Mosquitto's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from tracking.engine import FloorModel, GatewaySpec
from tracking.pipeline import Pipeline
from tracking.reader import EngineLink, ReaderWorker, socket_path
from tracking.runtime import SESSION_EXPIRY_S
from tracking.sources import wire
from tracking.sources.fastmqtt import RECEIVE_MAXIMUM, BrokerConfig
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import Partition

CTX = mp.get_context("fork")
_TICK_S = 0.05


def consumer(index: int, count: int, prefix: str, broker: BrokerConfig, gateways: int) -> MqttConsumer:
    """An `MqttConsumer` for partition `index` of `count` (as `tracking.runtime.mqtt_consumer` builds it), feeding
    a pipeline's engine on a floor of `gateways` gateways, two to a room."""
    pipeline = Pipeline(sessionmaker())
    specs = {f"gw-{i:02d}": GatewaySpec(f"gw-{i:02d}", f"room-{i // 2:02d}", 0.0) for i in range(gateways)}
    pipeline.engine.set_floor(FloorModel(specs, {}))
    return MqttConsumer(pipeline.ingest, pipeline.gateway_status, ingest_one=pipeline.ingest_one, broker=broker,
                        prefix=prefix, group=f"vtbench{prefix[-5:-1]}",
                        partition=Partition(index, count) if count > 1 else None,
                        heard=pipeline.engine.heard)  # fmt: skip


def _subscribed(index: int, count: int, prefix: str, broker: BrokerConfig, gateways: int, handled: Synchronized,
                owned: Synchronized, ready: Any, stop: Any) -> None:  # fmt: skip
    """One subscribed consumer process: the single engine, or partition `index` of `count` reading every message."""
    found = consumer(index, count, prefix, broker, gateways)
    found.start()
    while not found.connected:
        time.sleep(0.01)
    ready.set()
    while not stop.wait(_TICK_S):
        handled.value, owned.value = found.messages, found.observations
    logging.disable(logging.WARNING)  # the reader's session ends meanwhile: that is the stop, not a fault
    found.stop()
    handled.value, owned.value = found.messages, found.observations


def _engine(index: int, count: int, path: str, prefix: str, gateways: int, handled: Synchronized,
            owned: Synchronized, ready: Any, stop: Any) -> None:  # fmt: skip
    """One engine process behind the reader: its `EngineLink` into its consumer, as serve's engine processes run."""
    found = consumer(index, count, prefix, BrokerConfig("127.0.0.1", 1), gateways)
    link = EngineLink(path, found, index, count, backoff=(0.05, 0.5))
    deadline = time.monotonic() + 30
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    link.start()
    while link.links == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    ready.set()
    while not stop.wait(_TICK_S):
        handled.value, owned.value = found.messages, found.observations
    logging.disable(logging.WARNING)  # an engine's link closing meanwhile is the stop, not a fault
    link.stop()
    handled.value, owned.value = found.messages, found.observations


def _reader(path: str, count: int, prefix: str, broker: BrokerConfig, ready: Any, routed: Synchronized,
            stop: Any) -> None:  # fmt: skip
    """The reader process: `ReaderWorker` on the Unix socket, holding the broker's only subscription."""
    worker = ReaderWorker(path, count, broker, prefix, SESSION_EXPIRY_S, backoff=(0.05, 0.5))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (worker.router is not None and worker.router.subscribed):
        time.sleep(0.01)
    ready.set()
    while not stop.wait(_TICK_S):
        router = worker.router
        routed.value = worker.routed + (router.routed if router is not None else 0)
    logging.disable(logging.WARNING)  # an engine's link closing meanwhile is the stop, not a fault
    worker.stop()


@dataclass
class Shape:
    """Processes taking one stream: `engines` consumers, each subscribed (`reader=False`: one process, or partitions
    that each read every message) or behind one reader. `kept` counts what the engines processed (observations of
    their own tags)."""

    engines: int
    reader: bool
    prefix: str
    broker: BrokerConfig
    gateways: int
    stop: Any = field(default_factory=CTX.Event)
    procs: list[Any] = field(default_factory=list)
    handled: list[Synchronized] = field(default_factory=list)
    owned: list[Synchronized] = field(default_factory=list)
    routed: Synchronized = field(default_factory=lambda: CTX.Value("q", 0))
    _folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def name(self) -> str:
        if self.reader:
            return f"{self.engines} engines behind 1 reader"
        return f"{self.engines} partitions" if self.engines > 1 else "1 process"

    def start(self) -> None:
        readies = []
        path = ""
        if self.reader:
            self._folder = tempfile.TemporaryDirectory(prefix="vtr-")
            path = socket_path(self._folder.name)
            readies.append(self._fork(_reader, path, self.engines, self.prefix, self.broker))
        for i in range(self.engines):
            h, o = CTX.Value("q", 0), CTX.Value("q", 0)
            self.handled.append(h)
            self.owned.append(o)
            if self.reader:
                readies.append(self._fork(_engine, i, self.engines, path, self.prefix, self.gateways, h, o))
            else:
                readies.append(self._fork(_subscribed, i, self.engines, self.prefix, self.broker, self.gateways, h, o))
        if not all(ready.wait(60) for ready in readies):
            self.close()
            raise SystemExit(f"{self.name}: a process did not link or subscribe within 60 s")

    def _fork(self, target: Any, *args: Any) -> Any:
        """Start `target(*args, ready, [routed,] stop)` in a process; returns its ready event."""
        ready = CTX.Event()
        extra = (ready, self.routed, self.stop) if target is _reader else (ready, self.stop)
        proc = CTX.Process(target=target, args=(*args, *extra), daemon=True)
        proc.start()
        self.procs.append(proc)
        return ready

    @property
    def kept(self) -> int:
        return sum(o.value for o in self.owned)

    def cpu(self) -> list[float]:
        """CPU seconds so far of each process: the reader first (when there is one), then the engines."""
        return [cpu_seconds(proc.pid) for proc in self.procs]

    def close(self) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        if self._folder is not None:
            self._folder.cleanup()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def replay_broker(chunks: list[tuple[bytes, int]]) -> Iterator[tuple[BrokerConfig, Any, Synchronized]]:
    """A one-client MQTT 5 server serving `chunks` ((packets, how many)) in a process of its own: yields (where to
    connect, an event to set when the stream may start, PUBACKs counted so far)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = int(listener.getsockname()[1])
    go, acked = CTX.Event(), CTX.Value("q", 0)
    proc = CTX.Process(target=_replay, args=(listener, chunks, go, acked), daemon=True)
    proc.start()
    listener.close()
    try:
        yield BrokerConfig("127.0.0.1", port), go, acked
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()


def _replay(listener: socket.socket, chunks: list[tuple[bytes, int]], go: Any, acked: Synchronized) -> None:
    """The replay broker's process: handshake, then the stream within the client's window, counting PUBACKs."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = bytearray()
    _expect(conn, pending, wire.CONNECT)
    conn.sendall(bytes((wire.CONNACK << 4, 3, 0, 0, 0)))
    subscribe = _expect(conn, pending, wire.SUBSCRIBE).body
    pos, filters = 2 + 1 + subscribe[2], 0  # packet id, then a property length under 128 (ours is 0)
    while pos < len(subscribe):
        pos += 2 + (subscribe[pos] << 8 | subscribe[pos + 1]) + 1
        filters += 1
    body = subscribe[:2] + b"\x00" + b"\x01" * filters
    conn.sendall(bytes((wire.SUBACK << 4,)) + wire.varint(len(body)) + body)
    go.wait()
    total = sum(n for _, n in chunks)
    inflight = sent = count = 0
    while count < total:
        while sent < len(chunks) and inflight + chunks[sent][1] <= RECEIVE_MAXIMUM:
            conn.sendall(chunks[sent][0])
            inflight += chunks[sent][1]
            sent += 1
        data = conn.recv(1 << 16)
        if not data:
            return
        pending += data
        packets, used = wire.split(pending)
        del pending[:used]
        for packet in packets:
            if packet.kind == wire.PUBACK:
                count += 1
                inflight -= 1
            elif packet.kind == wire.PINGREQ:
                conn.sendall(bytes((wire.PINGRESP << 4, 0)))
        acked.value = count
    conn.settimeout(30)
    with contextlib.suppress(OSError):
        while conn.recv(1 << 16):  # until the client goes
            pass


def _expect(conn: socket.socket, pending: bytearray, kind: int) -> wire.Packet:
    while True:
        packets, _ = wire.split(pending)
        if packets:
            del pending[: len(wire.varint(len(packets[0].body))) + 1 + len(packets[0].body)]
            if packets[0].kind != kind:
                raise SystemExit(f"replay broker: packet type {packets[0].kind} where {kind} was due")
            return packets[0]
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise SystemExit("replay broker: the client left during the handshake")
        pending += chunk


def wire_run(engines: int, reader: bool, chunks: list[tuple[bytes, int]], gateways: int) -> tuple[list[float], int]:
    """(d) once: the stream from the replay broker into a shape; (CPU seconds of each of its processes, the reader
    first, messages the engines did not process)."""
    total = sum(n for _, n in chunks)
    with replay_broker(chunks) as (broker, go, acked):
        shape = Shape(engines, reader, "", broker, gateways)
        shape.start()
        try:
            before = shape.cpu()
            go.set()
            last, quiet_since = -1, time.monotonic()
            while (kept := shape.kept) < total or acked.value < total:
                if kept != last:
                    last, quiet_since = kept, time.monotonic()
                elif time.monotonic() - quiet_since > 10:
                    break
                time.sleep(0.01)
            spent = [after - start for after, start in zip(shape.cpu(), before, strict=True)]
        finally:
            shape.close()
    return spent, total - kept


def stream_chunks(packets: Iterator[bytes], size: int = 256) -> list[tuple[bytes, int]]:
    """Packets joined `size` at a time, as the replay broker writes them."""
    chunks, held = [], []
    for packet in packets:
        held.append(packet)
        if len(held) == size:
            chunks.append((b"".join(held), size))
            held = []
    if held:
        chunks.append((b"".join(held), len(held)))
    return chunks
