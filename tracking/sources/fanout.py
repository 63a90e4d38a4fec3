"""One reader per broker: the only subscription, each message routed by its tag to the engine process that owns it.

With N partitions each subscribing on its own, the broker sends every message N times (Mosquitto is one thread,
so its CPU per message grows with N). Here one `Router` holds the only subscription (QoS 1) and forwards each
PUBLISH packet, as the broker sent it, to the engine that owns its tag (`crc32(tag_key) % N`, the same
`partition.owner` every partition uses) over a local stream socket; a message whose tags cannot be told from its
topic (a raw advert batch, a gateway's status) goes to every engine, and each keeps its own tags, as partitions do.
An engine (`serve_engine`) reads its socket with `fastmqtt.feed` into its own `MqttConsumer.handle` and answers
with the count of messages it has handled so far (8 bytes, big-endian).

Nothing is lost: the router acknowledges a message to the broker only when every engine it went to has handled
it, and in the order the broker sent them (MQTT 5 asks for PUBACKs in order). Back-pressure: an engine holds at
most `ENGINE_WINDOW` unconfirmed messages; when one is full the router stops reading the broker until it confirms,
and the broker, holding at most `receive_maximum` unacknowledged messages for us, queues the rest. If the router
dies, what it had not acknowledged is delivered again to its restart (persistent session); if an engine dies, the
router's session ends (its socket closes) and the supervisor starts again.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from core.supervisor import Outage, Supervised
from tracking.sources import wire
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.fastmqtt import (
    GATHER_S,
    PUBACK_HEAD,
    READ_BYTES,
    RECEIVE_MAXIMUM,
    SMALL_READ,
    BrokerConfig,
    ForeignTopics,
    feed,
    handshake,
    open_connection,
)
from tracking.sources.partition import owner
from tracking.sources.routes import RouteTable

log = logging.getLogger(__name__)
ENGINE_WINDOW = 2048  # messages one engine may hold unconfirmed before the router stops reading the broker
EVERY = -1  # the route of a message that goes to every engine
TOPIC_CACHE = 200_000
_COUNT = 8  # bytes of an engine's confirmation: messages handled so far
_EVERY, _NO_ACK = 0x7F, 0x80  # a routed message's byte in the read loop's order: every engine; QoS 0 (no PUBACK)


class Router:
    """The reader: subscribes once, routes each message to its engine, acknowledges after the engine handled it."""

    def __init__(self, engines: Sequence[socket.socket], routes: RouteTable, broker: BrokerConfig | None = None,
                 prefix: str = "", client_id: str = "", session_expiry_s: int = 0,
                 receive_maximum: int = RECEIVE_MAXIMUM, keepalive: int = 30, engine_window: int = ENGINE_WINDOW,
                 backoff: tuple[float, float] = (1, 30)) -> None:  # fmt: skip
        self.engines = list(engines)
        if not 0 < len(self.engines) < _EVERY:
            raise ValueError(f"a router serves 1 to {_EVERY - 1} engines, not {len(self.engines)}")
        self.routes, self.prefix = routes, prefix
        self.routes.prefix = prefix
        self._devices = prefix + "espresense/devices/"
        self.broker = broker or BrokerConfig()
        self.client_id = client_id or f"vendtrack-router-{id(self):x}"
        self.session_expiry_s, self.receive_maximum, self.keepalive = session_expiry_s, receive_maximum, keepalive
        self.engine_window = engine_window
        self.held_back = 0  # times the router stopped reading the broker because an engine's window was full
        self.connected = self.subscribed = False
        self.connects = self.disconnects = self.acked = self.routed = 0
        self.unroutable = 0  # topics whose owner could not be found (sent to every engine)
        self.foreign: ForeignTopics | None = None  # the router drops nothing
        self.sent = [0] * len(self.engines)  # messages forwarded to each engine
        self.done = [0] * len(self.engines)  # messages each engine confirmed handled
        self._route_of: dict[str, int] = {}
        self._route_by_topic: dict[bytes, int] = {}
        self.supervisor = Supervised(f"tracking-mqtt-router-{self.broker.host}:{self.broker.port}", self.run_session,
                                     backoff=backoff)  # fmt: skip

    def topics(self) -> list[str]:
        return self.routes.filters()

    def handle(self, topic: str, payload: bytes) -> None:  # the SessionOwner protocol; packets are routed whole
        raise NotImplementedError

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()

    def route(self, topic: str) -> int:
        """The engine that owns the message's tag, or `EVERY` when the topic does not name one tag."""
        found = self._route_of.get(topic)
        if found is None:
            found = self._owner(topic)
            if len(self._route_of) >= TOPIC_CACHE:
                self._route_of.clear()
            self._route_of[topic] = found
        return found

    def route_bytes(self, topic: bytes) -> int:
        """`route` for a topic's bytes as the broker sent them (what the read loop looks up before any decode)."""
        found = self._owner(topic.decode("utf-8", "replace"))
        if len(self._route_by_topic) >= TOPIC_CACHE:
            self._route_by_topic.clear()
        self._route_by_topic[topic] = found
        return found

    def _owner(self, topic: str) -> int:
        count, found = len(self.engines), EVERY
        try:
            if topic.startswith(self._devices):
                device, _, gateway_id = topic[len(self._devices) :].partition("/")
                if device and gateway_id and "/" not in gateway_id:
                    found = owner(tag_key_from_espresense(device), count)
            else:
                matched = self.routes.match(topic)
                if matched is not None:
                    route, wildcards = matched
                    if route.tag_key is not None and route.tag_wildcard is not None:
                        found = owner(route.tag_key(wildcards[route.tag_wildcard]), count)
        except Exception:  # a format's tag key failing on a strange topic: every engine, whose consumer rejects it
            self.unroutable += 1
            log.warning("no owner found for topic %r; sent to every engine", topic[:200], exc_info=True)
        return found

    def run_session(self, supervisor: Supervised) -> None:
        """One broker session over the engines' links, in `supervisor`'s thread: raises `Outage` when the broker
        or an engine goes (the caller decides what comes next: `start` retries on the same links,
        `tracking.reader` gathers its engines again)."""
        sock = open_connection(self.broker)
        try:
            pending = handshake(self, sock)
            self.connected = self.subscribed = True
            self.connects += 1
            supervisor.up()
            _Loop(self, sock, supervisor, pending).run()
        except (OSError, wire.WireError) as exc:
            raise Outage(f"connection to {self.broker.describe()} lost: {exc}") from None
        finally:
            self.connected = self.subscribed = False
            self.disconnects += 1
            with contextlib.suppress(OSError):
                sock.sendall(wire.DISCONNECT_BYTES)
            sock.close()


class _Loop:
    """One session's reading: broker bytes in, packets out to engines, confirmations in, PUBACKs out in order."""

    def __init__(self, router: Router, sock: socket.socket, supervisor: Supervised, pending: bytearray) -> None:
        self.router, self.sock, self.supervisor = router, sock, supervisor
        self.buffer = bytearray(max(READ_BYTES, 2 * len(pending)))
        self.buffer[: len(pending)] = pending
        self.have = len(pending)
        # Messages routed but not yet acknowledged, in the broker's order: one byte each (its engine, `_EVERY` for
        # every engine, `_NO_ACK` added for QoS 0), the packet ids of those that need a PUBACK (two bytes each),
        # the engines' sequence numbers of each message sent to every engine, and one record per read:
        # [messages, packet ids, every engine's `sent` after it]. No object per message.
        self.order, self.ids = bytearray(), bytearray()
        self.every: deque[list[int]] = deque()
        self.reads: deque[list[Any]] = deque()
        self.taken = [0] * len(router.engines)  # messages sent to each engine already acknowledged
        self.confirm = [bytearray() for _ in router.engines]
        router.sent = [0] * len(router.engines)
        router.done = [0] * len(router.engines)

    def run(self) -> None:
        router, sock = self.router, self.sock
        engines = router.engines
        sent_at = time.monotonic()
        if self.have:  # messages of a resumed session that came with the handshake: routed before any read
            self._shift(self._forward())
        while not self.supervisor.stopping.is_set():
            full = any(s - d >= router.engine_window for s, d in zip(router.sent, router.done, strict=True))
            router.held_back += full
            buffered = not full and isinstance(sock, ssl.SSLSocket) and sock.pending() > 0  # TLS bytes select misses
            readable, _, _ = select.select(engines if full else [sock, *engines], [], [], 0 if buffered else 0.5)
            if buffered and sock not in readable:
                readable.append(sock)
            for ready in readable:
                if ready is sock:
                    self._from_broker()
                else:
                    self._confirmed(engines.index(ready))
            acks = self._acks()
            if acks:
                sock.sendall(acks)
                sent_at = time.monotonic()
            if time.monotonic() - sent_at > router.keepalive / 2:
                sock.sendall(wire.PINGREQ_BYTES)
                sent_at = time.monotonic()
            self.supervisor.beat()

    def _from_broker(self) -> None:
        view = memoryview(self.buffer)
        try:
            got = self.sock.recv_into(view[self.have :])
        finally:
            view.release()
        if got == 0:
            raise Outage(f"the broker {self.router.broker.describe()} closed the connection")
        self.have += got
        self._shift(self._forward())
        if got < SMALL_READ:  # a trickle: let messages gather so that one read and one write serve many
            time.sleep(GATHER_S)
        if self.have == len(self.buffer):  # one packet larger than the buffer: grow it
            self.buffer.extend(bytes(len(self.buffer)))

    def _shift(self, used: int) -> None:
        """The unfinished packet after the `used` bytes moves to the front of the buffer."""
        rest = self.buffer[used : self.have]
        self.buffer[: len(rest)] = rest
        self.have = len(rest)

    def _forward(self) -> int:
        """Route every complete PUBLISH in the buffer; returns the bytes used (the rest is an unfinished packet)."""
        router, have = self.router, self.have
        with memoryview(self.buffer) as whole, whole[:have] as part:
            data = bytes(part)  # one copy a read: its slices are the topics' keys and the packets, no decode
        out = [bytearray() for _ in router.engines]
        order, ids, known, route = self.order, self.ids, router._route_by_topic, router.route_bytes
        mark, ids_mark = len(order), len(ids)
        counted = mark  # `router.sent` counts the messages of `order` before this
        pos = 0
        while pos + 2 <= have:
            first, length, start = data[pos], data[pos + 1], pos + 2
            if length & 0x80:
                if pos + 2 < have and not data[pos + 2] & 0x80:  # two length bytes: most sightings
                    length, start = (length & 0x7F) | data[pos + 2] << 7, pos + 3
                else:
                    length, start = wire.read_varint(data, pos + 1, have)
                    if start < 0:
                        break
            end = start + length
            if end > have:
                break
            if first >> 4 == wire.PUBLISH:
                topic_end = start + 2 + (data[start] << 8 | data[start + 1])
                if topic_end + (3 if first & 0x06 else 1) > end:
                    raise wire.WireError("a PUBLISH whose topic runs past the packet")
                key = data[start + 2 : topic_end]
                target = known.get(key)
                if target is None:
                    target = route(key)
                if target == EVERY:  # rare: the sequence numbers it waits for are kept with it
                    self._count(counted)
                    router.sent[:] = [n + 1 for n in router.sent]
                    self.every.append(list(router.sent))
                    for engine_out in out:
                        engine_out += data[pos:end]
                    counted, target = len(order) + 1, _EVERY
                else:
                    out[target] += data[pos:end]
                if first & 0x06:
                    order.append(target)
                    ids += data[topic_end : topic_end + 2]
                else:
                    order.append(target | _NO_ACK)
            elif first >> 4 == wire.DISCONNECT:
                raise Outage(f"the broker disconnected us (reason 0x{data[start] if length else 0:02x})")
            pos = end
        if len(order) > mark:
            self._count(counted)
            self.reads.append([len(order) - mark, (len(ids) - ids_mark) >> 1, list(router.sent)])
            router.routed += len(order) - mark
        for engine, engine_out in zip(router.engines, out, strict=True):
            if engine_out:
                engine.sendall(engine_out)  # blocks while the engine's socket buffer is full: back-pressure
        return pos

    def _count(self, start: int) -> None:
        """Adds the messages of `order[start:]` (none sent to every engine) to each engine's `sent`."""
        order, sent = self.order, self.router.sent
        for engine in range(len(sent)):
            sent[engine] += order.count(engine, start) + order.count(engine | _NO_ACK, start)

    def _confirmed(self, index: int) -> None:
        data = self.router.engines[index].recv(65536)
        if not data:
            raise Outage(f"engine {index} closed its link to the router")
        held = self.confirm[index]
        held += data
        whole = len(held) - len(held) % _COUNT
        if whole:
            self.router.done[index] = int.from_bytes(held[whole - _COUNT : whole], "big")
            del held[:whole]

    def _acks(self) -> bytearray:
        """PUBACKs for the oldest messages every engine they went to has handled, in the broker's order: whole reads
        by their records, then as much of the oldest unfinished read as is handled, message by message."""
        order, done, taken, reads = self.order, self.router.done, self.taken, self.reads
        used = pairs = 0
        while reads:
            count, acks, after = reads[0]
            if all(d >= s for d, s in zip(done, after, strict=True)):
                reads.popleft()
                for _ in range(order.count(_EVERY, used, used + count) + order.count(_EVERY | _NO_ACK, used,
                                                                                     used + count)):  # fmt: skip
                    self.every.popleft()
                taken[:] = after
                used, pairs = used + count, pairs + acks
                continue
            at, end = used, used + count
            while at < end:
                engine = order[at] & _EVERY
                if engine == _EVERY:
                    if any(d < s for d, s in zip(done, self.every[0], strict=True)):
                        break
                    self.every.popleft()
                    taken[:] = [n + 1 for n in taken]
                elif done[engine] > taken[engine]:
                    taken[engine] += 1
                else:
                    break
                if not order[at] & _NO_ACK:
                    pairs += 1
                    acks -= 1
                at += 1
            reads[0][0], reads[0][1], used = end - at, acks, at
            break
        del order[:used]
        if not pairs:
            return bytearray()
        found = bytearray(4 * pairs)
        found[0::4], found[1::4] = PUBACK_HEAD[:1] * pairs, PUBACK_HEAD[1:] * pairs
        found[2::4], found[3::4] = self.ids[0 : 2 * pairs : 2], self.ids[1 : 2 * pairs : 2]
        del self.ids[: 2 * pairs]
        self.router.acked += pairs
        return found


def serve_engine(link: socket.socket, handle: Callable[[str, bytes], None], stopping: Callable[[], bool]) -> int:
    """An engine's side of its link: every packet the router sends goes to `handle` (an `MqttConsumer`'s), then
    the count handled so far goes back. Returns the count when the router closes the link or `stopping()`."""
    buffer = bytearray(READ_BYTES)
    have = handled = 0
    acks = bytearray()  # the router acknowledges to the broker; these are not sent
    link.settimeout(0.2)
    while not stopping():
        view = memoryview(buffer)
        try:
            got = link.recv_into(view[have:])
        except TimeoutError:
            continue
        finally:
            view.release()
        if got == 0:
            return handled
        have += got
        used, count = feed(buffer, have, handle, acks)
        acks.clear()
        if count:
            handled += count
            link.sendall(handled.to_bytes(_COUNT, "big"))
        rest = buffer[used:have]
        buffer[: len(rest)] = rest
        have = len(rest)
        if have == len(buffer):
            buffer.extend(bytes(len(buffer)))
        elif got < SMALL_READ:  # as the consumer's session: one read and one confirmation serve many messages
            time.sleep(GATHER_S)
    return handled
