"""The MQTT consumer at broker speed: our own MQTT 5 socket loop in place of paho's; QoS 1 acked after processing.

Why not paho: paho reads every packet with three `recv` calls and sends every PUBACK with a `send` of
its own; measured here it tops out near 10k msg/s. This loop reads up to `READ_BYTES` per system call,
decodes every complete packet in it (`wire.split`), hands each message to the consumer's `handle` (the
route table, the partition check, the engine) and only then sends one write holding the PUBACKs of
the whole read. Back-pressure is the protocol's own: the broker keeps at most `receive_maximum`
unacknowledged messages in flight to us, so our memory holds at most one read's worth of messages and
the rest waits in the broker's queue (size it: docs/scaling.md). A message is acknowledged once the
engine holds it, never before; if the process dies first the broker delivers it again.

Routing, partitioning, counting and the one guard around each message are `MqttConsumer`'s; this class
replaces only the network session. Reconnects go through the same `Supervised` thread.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
import uuid
from typing import Any

from core.supervisor import Outage, Supervised
from tracking.sources import wire
from tracking.sources.mqtt import MqttConsumer

READ_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 16 << 20  # a packet larger than this ends the session (the broker should never send one)
RECEIVE_MAXIMUM = 4096  # messages the broker may have in flight to us, unacknowledged


class FastMqttConsumer(MqttConsumer):
    def __init__(self, *args: Any, receive_maximum: int = RECEIVE_MAXIMUM, keepalive: int = 30,
                 session_expiry_s: int = 0, client_id: str = "", **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.receive_maximum, self.keepalive = receive_maximum, keepalive
        self.session_expiry_s = session_expiry_s  # > 0 with a fixed client_id: the broker keeps our queue while away
        self.client_id = client_id or f"vendtrack-{uuid.uuid4().hex[:10]}"
        self.acked = 0

    def topics(self) -> list[str]:
        if self.partition is not None:  # every partition hears every topic and keeps its own tags
            return self.routes.filters()
        return super().topics()

    def _open(self) -> socket.socket:
        where = self.broker.describe()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
        except OSError as exc:
            raise Outage(f"cannot reach the MQTT broker at {where}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.broker.tls:
            return sock
        context = ssl.create_default_context(cafile=self.broker.ca_file or None)
        if self.broker.cert_file:
            context.load_cert_chain(self.broker.cert_file, self.broker.key_file or None)
        try:
            return context.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLError as exc:
            sock.close()
            raise Outage(f"TLS with {where} failed: {exc.reason or exc}; check VENDTRACK_MQTT_CA_FILE and the "
                         "broker's certificate") from None  # fmt: skip

    def _handshake(self, sock: socket.socket) -> bytearray:
        """CONNECT, SUBSCRIBE; returns bytes already read past the SUBACK."""
        clean = self.session_expiry_s == 0
        sock.sendall(wire.connect(self.client_id, self.keepalive, self.receive_maximum, clean, self.session_expiry_s,
                                  self.broker.username, self.broker.password))  # fmt: skip
        pending = bytearray()
        connack = self._expect(sock, pending, wire.CONNACK)
        if wire.reason_code(connack):
            code = wire.reason_code(connack)
            hint = "; check VENDTRACK_MQTT_USERNAME and VENDTRACK_MQTT_PASSWORD" if code in (0x86, 0x87) else ""
            raise Outage(f"the broker {self.broker.describe()} refused the connection: reason 0x{code:02x}{hint}")
        sock.sendall(wire.subscribe(1, self.topics(), qos=1))
        suback = self._expect(sock, pending, wire.SUBACK)
        if wire.reason_code(suback) >= 0x80:
            raise Outage(f"the broker {self.broker.describe()} refused the subscription to {self.topics()}")
        return pending

    def _expect(self, sock: socket.socket, pending: bytearray, kind: int) -> wire.Packet:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            packets, used = wire.split(pending)
            if packets:
                pending[:] = b"".join(_frame(p) for p in packets[1:]) + bytes(pending[used:])  # for the read loop
                if packets[0].kind != kind:
                    raise Outage(f"the broker sent packet type {packets[0].kind} where {kind} was due")
                return packets[0]
            chunk = sock.recv(65536)
            if not chunk:
                raise Outage(f"the broker {self.broker.describe()} closed the connection during the handshake")
            pending += chunk
        raise Outage(f"the broker {self.broker.describe()} did not answer within 10 s")

    def _session(self, supervisor: Supervised) -> None:
        sock = self._open()
        try:
            pending = self._handshake(sock)
            self.connected = True
            self.connects += 1
            supervisor.up()
            sock.settimeout(0.5)
            self._read_loop(sock, supervisor, pending)
        except (OSError, wire.WireError) as exc:
            raise Outage(f"connection to {self.broker.describe()} lost: {exc}") from None
        finally:
            self.connected = False
            self.disconnects += 1
            with contextlib.suppress(OSError):
                sock.sendall(wire.DISCONNECT_BYTES)
            sock.close()

    def _read_loop(self, sock: socket.socket, supervisor: Supervised, pending: bytearray) -> None:
        buffer = bytearray(max(READ_BYTES, len(pending) * 2))
        view = memoryview(buffer)
        have = len(pending)
        buffer[:have] = pending
        handle, publish_of, split = self.handle, wire.read_publish, wire.split
        sent_at = time.monotonic()
        while not supervisor.stopping.is_set():
            try:
                got = sock.recv_into(view[have:]) if have < len(buffer) else 0
            except TimeoutError:
                got = -1
            if got == 0 and have < len(buffer):
                raise Outage(f"the broker {self.broker.describe()} closed the connection")
            if got > 0:
                have += got
                packets, used = split(view[:have])
                acks = []
                for packet in packets:
                    if packet.kind == wire.PUBLISH:
                        message = publish_of(packet)
                        handle(message.topic, message.payload)  # never raises: MqttConsumer's guard
                        if message.qos:
                            acks.append(wire.puback(message.packet_id))
                    elif packet.kind == wire.DISCONNECT:
                        raise Outage(f"the broker disconnected us (reason 0x{wire.reason_code(packet):02x})")
                if acks:
                    sock.sendall(b"".join(acks))
                    self.acked += len(acks)
                    sent_at = time.monotonic()
                buffer[: have - used] = bytes(view[used:have])  # the unfinished packet moves to the front
                have -= used
                if have == len(buffer):  # one packet larger than the buffer: grow it
                    if len(buffer) >= MAX_MESSAGE_BYTES:
                        raise Outage(f"a message over {MAX_MESSAGE_BYTES} bytes from {self.broker.describe()}")
                    view.release()
                    buffer.extend(bytes(len(buffer)))
                    view = memoryview(buffer)
            if time.monotonic() - sent_at > self.keepalive / 2:
                sock.sendall(wire.PINGREQ_BYTES)
                sent_at = time.monotonic()
            supervisor.beat()


def _frame(packet: wire.Packet) -> bytes:
    return bytes((packet.kind << 4 | packet.flags,)) + wire.varint(len(packet.body)) + packet.body
