"""The MQTT consumer's network session: our own MQTT 5 socket loop (QoS 1, acknowledged after processing).

Why not paho: paho reads every packet with three `recv` calls and sends every PUBACK with a `send` of
its own; measured here it tops out near 10k msg/s. This loop reads up to `READ_BYTES` per system call,
decodes every complete packet in it (`feed`), hands each message to the consumer's `handle` (the route
table, the partition check, the engine) and only then sends one write holding the PUBACKs of the whole
read. Back-pressure is the protocol's own: the broker keeps at most `receive_maximum` unacknowledged
messages in flight to us, so our memory holds at most one read's worth of messages and the rest waits in
the broker's queue (size it: docs/scaling.md). A message is acknowledged once the engine holds it, never
before; if the process dies first the broker delivers it again (with a persistent session).

`tracking.sources.mqtt.MqttConsumer` (routing, partitions, counters, the one guard around each message)
runs one `run_session` per connection inside its `Supervised` thread; a lost connection ends the session
and the supervisor opens a new one after a backoff.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.supervisor import Outage, Supervised
from tracking.sources import wire
from tracking.sources.partition import ForeignTopics

READ_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 16 << 20  # a packet larger than this ends the session (the broker should never send one)
RECEIVE_MAXIMUM = 4096  # messages the broker may have in flight to us, unacknowledged
SMALL_READ = 16 << 10  # a read shorter than this (about 70 sightings) is followed by a pause of GATHER_S
GATHER_S = 0.002  # costs at most 2 ms of latency; saves a recv and a send per message or two at moderate rates
PUBACK_HEAD = bytes((wire.PUBACK << 4, 2))
_NO_FOREIGN = ForeignTopics(lambda _gateway, _at: None)  # a consumer of every tag: no topic is ever added to it


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""  # empty: the system's trusted CAs
    cert_file: str = ""  # client certificate (mutual TLS), with key_file
    key_file: str = ""

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class SessionOwner(Protocol):
    """What a session needs from its consumer: where and who, what to subscribe, where messages go, counters."""

    broker: BrokerConfig
    client_id: str
    keepalive: int
    receive_maximum: int
    session_expiry_s: int
    connected: bool
    subscribed: bool
    connects: int
    disconnects: int
    acked: int
    foreign: ForeignTopics | None  # topics of other partitions' tags, dropped by `feed`

    def topics(self) -> list[str]: ...

    def handle(self, topic: str, payload: bytes) -> None: ...


def feed(buffer: bytearray, have: int, handle: Callable[[str, bytes], None], acks: bytearray,
         foreign: ForeignTopics | None = None) -> tuple[int, int]:  # fmt: skip
    """Hand every complete PUBLISH in `buffer[:have]` to `handle`, appending its PUBACK (QoS 1) to `acks`.

    Returns (bytes used, messages handled); the unfinished packet at the end waits for the next read. Parsed in
    place (no packet objects). A message whose topic is in `foreign` (another partition's tag) is acknowledged
    and dropped right there, after a topic decode and one look-up: no payload copy, no call to `handle`.
    Raises `Outage` on a DISCONNECT from the broker and `wire.WireError` on bytes that are not MQTT.
    """
    pos = handled = 0
    drop = foreign if foreign is not None else _NO_FOREIGN
    known = drop.topics
    while pos + 2 <= have:
        first = buffer[pos]
        length = buffer[pos + 1]
        start = pos + 2
        if length & 0x80:
            if pos + 2 < have and not buffer[pos + 2] & 0x80:  # two length bytes: most sightings (128 B - 16 kB)
                length = (length & 0x7F) | buffer[pos + 2] << 7
                start = pos + 3
            else:
                length, start = wire.read_varint(buffer, pos + 1, have)
                if start < 0:
                    break
        end = start + length
        if end > have:
            break
        if first >> 4 == wire.PUBLISH:
            topic_end = start + 2 + (buffer[start] << 8 | buffer[start + 1]) if length >= 2 else end + 1
            if topic_end + (3 if first & 0x06 else 1) > end:
                raise wire.WireError("a PUBLISH whose topic runs past the packet")
            topic = buffer[start + 2 : topic_end].decode("utf-8", "replace")
            if first & 0x06:  # QoS 1 (or 2, which we never subscribe with): a packet id follows the topic
                acks += PUBACK_HEAD
                acks += buffer[topic_end : topic_end + 2]
                topic_end += 2
            gateway_id = known.get(topic)
            if gateway_id is not None:  # another partition's tag, known by its topic: acknowledged and dropped
                drop.seen.add(gateway_id)
                drop.dropped += 1  # at once, not at the end: the consumer's message count is its tests' clock
                pos = end
                continue
            props = buffer[topic_end]
            if props < 0x80:
                body = topic_end + 1 + props
            else:
                skip, body = wire.read_varint(buffer, topic_end, end)
                if body < 0:
                    raise wire.WireError("a PUBLISH whose property length runs past the packet")
                body += skip
            handle(topic, bytes(buffer[body:end]))  # never raises on a bad message: MqttConsumer's guard
            handled += 1
        elif first >> 4 == wire.DISCONNECT:
            reason = buffer[start] if length else 0
            raise Outage(f"the broker disconnected us (reason 0x{reason:02x})")
        pos = end
    if drop.seen:
        drop.report()
    return pos, handled


def run_session(owner: SessionOwner, supervisor: Supervised) -> None:
    """One connection: connect, subscribe (QoS 1), then read until stopped or cut off (raises `Outage`)."""
    sock = open_connection(owner.broker)
    try:
        pending = handshake(owner, sock)
        owner.connected = owner.subscribed = True
        owner.connects += 1
        supervisor.up()
        sock.settimeout(0.5)
        _read_loop(owner, sock, supervisor, pending)
    except (OSError, wire.WireError) as exc:
        raise Outage(f"connection to {owner.broker.describe()} lost: {exc}") from None
    finally:
        owner.connected = owner.subscribed = False
        owner.disconnects += 1
        with contextlib.suppress(OSError):
            sock.sendall(wire.DISCONNECT_BYTES)
        sock.close()


def open_connection(broker: BrokerConfig) -> socket.socket:
    where = broker.describe()
    try:
        sock = socket.create_connection((broker.host, broker.port), timeout=10)
    except OSError as exc:
        raise Outage(f"cannot reach the MQTT broker at {where}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not broker.tls:
        return sock
    context = ssl.create_default_context(cafile=broker.ca_file or None)
    if broker.cert_file:
        context.load_cert_chain(broker.cert_file, broker.key_file or None)
    try:
        return context.wrap_socket(sock, server_hostname=broker.host)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        reason = getattr(exc, "reason", None) or exc
        raise Outage(f"TLS with {where} failed: {reason}; check VENDTRACK_MQTT_CA_FILE and the broker's "
                     "certificate") from None  # fmt: skip


def handshake(owner: SessionOwner, sock: socket.socket) -> bytearray:
    """CONNECT, SUBSCRIBE; returns the bytes already read past the SUBACK."""
    broker = owner.broker
    clean = owner.session_expiry_s == 0
    sock.sendall(wire.connect(owner.client_id, owner.keepalive, owner.receive_maximum, clean, owner.session_expiry_s,
                              broker.username, broker.password))  # fmt: skip
    pending = bytearray()
    connack = _expect(owner, sock, pending, wire.CONNACK)
    if code := wire.reason_code(connack):
        hint = ""
        if code in (0x86, 0x87, 0x04, 0x05):  # bad user name or password / not authorised
            hint = "; check VENDTRACK_MQTT_USERNAME and VENDTRACK_MQTT_PASSWORD (and the broker's ACL)"
        raise Outage(f"the broker {broker.describe()} refused the connection: reason 0x{code:02x}{hint}")
    sock.sendall(wire.subscribe(1, owner.topics(), qos=1))
    suback = _expect(owner, sock, pending, wire.SUBACK)
    if wire.reason_code(suback) >= 0x80:
        raise Outage(f"the broker {broker.describe()} refused the subscription to {owner.topics()}")
    return pending


def _expect(owner: SessionOwner, sock: socket.socket, pending: bytearray, kind: int) -> wire.Packet:
    deadline = time.monotonic() + 10
    where = owner.broker.describe()
    while time.monotonic() < deadline:
        packets, used = wire.split(pending)
        for n, packet in enumerate(packets):
            if packet.kind == kind:  # what came before it (messages of a kept session) waits for the read loop
                kept = packets[:n] + packets[n + 1 :]
                pending[:] = b"".join(_frame(p) for p in kept) + bytes(pending[used:])
                return packet
            if packet.kind != wire.PUBLISH:  # a resumed session's messages may come before our SUBACK; nothing else
                raise Outage(f"the broker sent packet type {packet.kind} where {kind} was due")
        chunk = sock.recv(65536)
        if not chunk:
            raise Outage(f"the broker {where} closed the connection during the handshake")
        pending += chunk
    raise Outage(f"the broker {where} did not answer within 10 s")


def _read_loop(owner: SessionOwner, sock: socket.socket, supervisor: Supervised, pending: bytearray) -> None:
    buffer = bytearray(max(READ_BYTES, len(pending) * 2))
    view = memoryview(buffer)
    have = len(pending)
    buffer[:have] = pending
    handle, where = owner.handle, owner.broker.describe()
    acks = bytearray()
    if have:  # messages of a resumed session that came with the handshake: handled before any read
        used, _handled = feed(buffer, have, handle, acks, owner.foreign)
        buffer[: have - used] = bytes(view[used:have])
        have -= used
        sock.sendall(acks)
        owner.acked += len(acks) >> 2
        acks.clear()
    sent_at = time.monotonic()
    while not supervisor.stopping.is_set():
        try:
            got = sock.recv_into(view[have:]) if have < len(buffer) else 0
        except TimeoutError:
            got = -1
        if got == 0 and have < len(buffer):
            raise Outage(f"the broker {where} closed the connection")
        if got > 0:
            have += got
            used, _handled = feed(buffer, have, handle, acks, owner.foreign)
            if acks:
                sock.sendall(acks)
                owner.acked += len(acks) >> 2
                acks.clear()
                sent_at = time.monotonic()
            buffer[: have - used] = bytes(view[used:have])  # the unfinished packet moves to the front
            have -= used
            if got < SMALL_READ:  # a trickle: let messages gather so that one read and one write serve many
                time.sleep(GATHER_S)
            if have == len(buffer):  # one packet larger than the buffer: grow it
                if len(buffer) >= MAX_MESSAGE_BYTES:
                    raise Outage(f"a message over {MAX_MESSAGE_BYTES} bytes from {where}")
                view.release()
                buffer.extend(bytes(len(buffer)))
                view = memoryview(buffer)
        if time.monotonic() - sent_at > owner.keepalive / 2:
            sock.sendall(wire.PINGREQ_BYTES)
            sent_at = time.monotonic()
        supervisor.beat()


def _frame(packet: wire.Packet) -> bytes:
    return bytes((packet.kind << 4 | packet.flags,)) + wire.varint(len(packet.body)) + packet.body
