"""The tests' side of the real Mosquitto on 127.0.0.1:1883: is it up, a private topic prefix, consumers started on it
and waited for, a QoS 1 publisher. The `mosquitto` fixture (tests/tracking/conftest.py) hands out a `Mosquitto`.

Every test that talks to the broker used to write the same set-up: a random prefix, start the consumer (or the
workers holding it), wait until the broker acknowledged its subscription (a message published before the SUBACK
is lost), stop everything at the end. `Mosquitto.start` does that once, and the fixture stops what it started
even when the test fails.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.support import wait_until
from tracking.sources import wire
from tracking.sources.mqtt import MqttConsumer

BROKER = ("127.0.0.1", 1883)
OWN_BROKER = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages {queue}
max_queued_bytes 0
"""


def broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not broker_up(), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto)")


class Runner(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Mosquitto:
    """One test's use of the broker: `prefix` (private to the test), what it started (stopped by `close`)."""

    def __init__(self, name: str = "vttest") -> None:
        self.prefix = f"{name}-{secrets.token_hex(4)}/"
        self._running: list[Runner] = []
        self._publishers: list[Publisher] = []

    def consumer(self, ingest: Callable[[list[Any]], Any], gateway_status: Callable[[str, bool], Any] | None = None,
                 **options: Any) -> MqttConsumer:  # fmt: skip
        """An `MqttConsumer` on this test's prefix (a backoff of 1-2 s unless given), started and subscribed."""
        options.setdefault("backoff", (1, 2))
        found = MqttConsumer(ingest, gateway_status or (lambda _gateway, _online: None), prefix=self.prefix, **options)
        self.start(found)
        return found

    def start(self, *consumers: MqttConsumer) -> None:
        """Start each consumer and return once the broker has acknowledged every one's subscription."""
        for consumer in consumers:
            self.run(consumer)
        self.subscribed(*consumers)

    def run(self, runner: Runner) -> None:
        """Start something that holds consumers (a `WorkerSet`, a consumer not yet expected to connect)."""
        self._running.append(runner)
        runner.start()

    @staticmethod
    def subscribed(*consumers: MqttConsumer, timeout: float = 15) -> None:
        wait_until(lambda: all(c.subscribed for c in consumers), timeout=timeout, every=0.02,
                   what=f"the broker's SUBACK to {len(consumers)} consumer(s)")  # fmt: skip

    def publisher(self) -> Publisher:
        found = Publisher()
        self._publishers.append(found)
        return found

    def close(self) -> None:
        for runner in reversed(self._running):
            runner.stop()
        for publisher in self._publishers:
            publisher.close()


class Publisher:
    """A QoS 1 publisher on a raw MQTT 5 socket: `send` returns once the broker acknowledged the message."""

    def __init__(self, port: int = BROKER[1]) -> None:
        self.sock = socket.create_connection((BROKER[0], port), timeout=10)
        self.sock.sendall(wire.connect(f"vttest-pub-{secrets.token_hex(4)}", 30))
        self.pending = bytearray()
        self.packet_id = 0
        packets = self._read()
        while not packets:
            packets = self._read()
        assert packets[0].kind == wire.CONNACK

    def _read(self) -> list[wire.Packet]:
        self.pending += self.sock.recv(65536)
        packets, used = wire.split(self.pending)
        del self.pending[:used]
        return packets

    def send(self, topic: str, payload: bytes | str) -> None:
        self.send_all([(topic, payload)])

    def send_all(self, messages: Iterable[tuple[str, bytes | str]], window: int = 20) -> None:
        """Publish in order with up to `window` unacknowledged (under the broker's receive maximum); return when
        the broker has acknowledged them all."""
        inflight = 0
        for topic, payload in messages:
            self.packet_id = self.packet_id % 65535 + 1
            data = payload.encode() if isinstance(payload, str) else payload
            self.sock.sendall(wire.publish(topic, data, 1, self.packet_id))
            inflight += 1
            while inflight >= window:
                inflight -= sum(1 for p in self._read() if p.kind == wire.PUBACK)
        while inflight > 0:
            inflight -= sum(1 for p in self._read() if p.kind == wire.PUBACK)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(wire.DISCONNECT_BYTES)
        self.sock.close()


@contextlib.contextmanager
def own_broker(queue: int) -> Iterator[int]:
    """A Mosquitto of the test's own on a free port that queues up to `queue` messages per client (the system one
    keeps 1000 and drops the rest: a burst test needs more); yields its port. Skips when mosquitto is missing."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("no mosquitto binary")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(OWN_BROKER.format(port=port, queue=queue))
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _listening(port), timeout=10, what=f"our own mosquitto on port {port}")
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
