"""The one MQTT reader of `vendtrack serve`: the `Router` in a process of its own, its engines linked by a Unix socket.

With `VENDTRACK_TRACKING_MQTT_READER=1` (and `VENDTRACK_TRACKING_MQTT_PROCESSES=N`) serve's process
`tracking-reader` (`vendtrack workers --process tracking-reader`, supervised like the engines; a thread only
where one process runs everything) runs a `ReaderWorker` and nothing else: it listens on
`<instance folder>/tracking-reader.sock`, waits until engines 0..N-1 have each connected and said their index
(`EngineLink`, one per engine process, engine 0 in the workers process included), then runs one broker session
of `tracking.sources.fanout.Router` over those links (client id per topic prefix, session kept
`session_expiry_s`). When an engine's link closes the session ends: every link is closed, the reader gathers
all N again and takes its session back, and the broker delivers what no engine had confirmed (a restarted
engine gets its unacknowledged messages again; so does a restarted reader). An engine's link hands every
message to its own `MqttConsumer.handle` (routes, limits, counters, the engine), which counts and logs a bad
message and goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import zlib
from pathlib import Path

from core.heartbeats import Beat
from core.supervisor import Outage, Supervised
from tracking.sources.fanout import Router, serve_engine
from tracking.sources.fastmqtt import BrokerConfig
from tracking.sources.mqtt import RAW, MqttConsumer
from tracking.sources.routes import Route, RouteTable, standard_routes

log = logging.getLogger(__name__)
SOCKET_NAME = "tracking-reader.sock"
MAX_SOCKET_PATH = 107  # bytes of a Unix socket's path on Linux (sun_path less its final NUL)
HELLO_TIMEOUT_S = 5.0  # an engine says its index this soon after connecting, or is refused
GATHER_LATE_S = 30.0  # engines missing this long after the reader began to gather them: the reader reports down
_POLL_S = 0.5


def socket_path(instance_path: str | os.PathLike[str]) -> str:
    return str(Path(instance_path) / SOCKET_NAME)


def reader_routes(prefix: str) -> RouteTable:
    """What the reader subscribes to: every topic an engine's consumer takes, the raw-advert batches included (the
    reader only routes by topic; each engine's consumer parses)."""
    routes = standard_routes(prefix)
    routes.add(Route(RAW, lambda _wildcards, _payload, _now: None, "vendtrack-adverts"))
    return routes


def _hello(index: int, count: int) -> bytes:
    return f"engine {index}/{count}\n".encode()


def _line(sock: socket.socket, limit: int = 200) -> str:
    """One newline-ended line (at most `limit` bytes); raises `TimeoutError` per the socket's timeout."""
    found = bytearray()
    while not found.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk or len(found) >= limit:
            raise ConnectionError("the peer closed the link or sent no line")
        found += chunk
    return found[:-1].decode("utf-8", "replace")


def _listen(path: str) -> socket.socket:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise Outage(f"the reader's socket path {path!r} is longer than {MAX_SOCKET_PATH} bytes: give the instance "
                     "folder a shorter path (VENDTRACK_INSTANCE_PATH)")  # fmt: skip
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a reader that died
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)  # only this user's processes may feed an engine (before listen: none connected)
        listener.listen(64)
    except OSError as exc:
        listener.close()
        raise Outage(f"the reader cannot listen on {path}: {exc.strerror or exc}") from None
    listener.settimeout(_POLL_S)
    return listener


class ReaderWorker:
    """The reader: gathers its N engines on the Unix socket, then holds the broker's only subscription for them."""

    def __init__(self, path: str, count: int, broker: BrokerConfig, prefix: str = "", session_expiry_s: int = 300,
                 backoff: tuple[float, float] = (1.0, 30.0)) -> None:  # fmt: skip
        self.path, self.count, self.broker, self.prefix = path, count, broker, prefix
        self.session_expiry_s = session_expiry_s
        self.client_id = f"vendtrack-reader-{zlib.crc32(prefix.encode()):08x}"  # one per prefix: a restart takes over
        self.name = f"tracking-mqtt-reader-{broker.host}:{broker.port}"
        self.links: dict[int, socket.socket] = {}
        self.router: Router | None = None
        self.sessions = self.refused = self.routed = self.acked = 0  # totals over every session
        self._listener: socket.socket | None = None
        self.supervisor = Supervised(self.name, self._run, backoff=backoff)

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()
        self._close_links()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _run(self, supervisor: Supervised) -> None:
        if self._listener is None:
            self._listener = _listen(self.path)
        self._gather(self._listener, supervisor)
        if supervisor.stopping.is_set():
            return
        router = Router([self.links[i] for i in range(self.count)], reader_routes(self.prefix), self.broker,
                        prefix=self.prefix, client_id=self.client_id,
                        session_expiry_s=self.session_expiry_s)  # fmt: skip
        self.router = router
        self.sessions += 1
        try:
            router.run_session(supervisor)
        finally:
            self.router = None  # first: a heartbeat meanwhile counts this session's messages at most once
            self.routed += router.routed
            self.acked += router.acked
            self._close_links()  # every engine starts a fresh link: its count of handled messages starts at 0

    def _gather(self, listener: socket.socket, supervisor: Supervised) -> None:
        late_at = time.monotonic() + GATHER_LATE_S
        while len(self.links) < self.count and not supervisor.stopping.is_set():
            supervisor.beat()
            if time.monotonic() > late_at:  # /healthz shows the reader down, with who is missing; the links stay
                missing = ", ".join(str(i) for i in range(self.count) if i not in self.links)
                raise Outage(f"engine(s) {missing} of {self.count} have not linked to {self.path} within "
                             f"{GATHER_LATE_S:.0f} s: are their processes (vendtrack workers --process "
                             "tracking-engine-i) running?")  # fmt: skip
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            self._greet(conn)

    def _greet(self, conn: socket.socket) -> None:
        conn.settimeout(HELLO_TIMEOUT_S)
        try:
            words = _line(conn).split()
            index, _, count = (words[1] if len(words) == 2 and words[0] == "engine" else "").partition("/")
            if not (index.isdigit() and count.isdigit()):
                raise ValueError("say `engine INDEX/COUNT`")
            if int(count) != self.count or not 0 <= int(index) < self.count:
                raise ValueError(f"engine {index}/{count} does not fit this reader's {self.count} engines: "
                                 "every process needs the same VENDTRACK_TRACKING_MQTT_PROCESSES")  # fmt: skip
            old = self.links.pop(int(index), None)
            if old is not None:  # the same engine again (it restarted before the session began): the new link wins
                old.close()
            conn.sendall(b"ok\n")
        except (OSError, ValueError) as exc:
            self.refused += 1
            log.warning("%s refused a link on %s: %s", self.name, self.path, exc)
            with contextlib.suppress(OSError):
                conn.sendall(f"refused: {exc}\n".encode()[:500])
            conn.close()
            return
        conn.settimeout(None)
        self.links[int(index)] = conn

    def _close_links(self) -> None:
        links, self.links = self.links, {}
        for link in links.values():
            with contextlib.suppress(OSError):
                link.close()

    def heartbeat(self) -> Beat:
        supervisor, router = self.supervisor, self.router
        connected = sorted(self.links)
        if router is not None:
            info = f"reading {self.broker.describe()} for engines 0-{self.count - 1}"
        else:
            missing = ", ".join(str(i) for i in range(self.count) if i not in connected)
            info = f"waiting for engine(s) {missing} of {self.count} on {self.path}"
        counters = {"engines": self.count, "engines_connected": len(connected), "sessions": self.sessions,
                    "refused_links": self.refused, "restarts": supervisor.restarts,
                    "routed": self.routed + (router.routed if router else 0),
                    "acked": self.acked + (router.acked if router else 0),
                    "held_back": router.held_back if router else 0,
                    "unroutable": router.unroutable if router else 0}  # fmt: skip
        return Beat(self.name, supervisor.alive_at, supervisor.started_at, supervisor.state, counters=counters,
                    last_error=supervisor.last_error, info=info)  # fmt: skip


class EngineLink:
    """An engine's end of the reader: connects, says its index, hands each routed message to its consumer."""

    def __init__(self, path: str, consumer: MqttConsumer, index: int, count: int,
                 backoff: tuple[float, float] = (0.5, 5.0)) -> None:  # fmt: skip
        self.path, self.consumer, self.index, self.count = path, consumer, index, count
        self.name = f"tracking-engine-link-{index}of{count}"
        self.links = 0  # links the reader accepted
        self.supervisor = Supervised(self.name, self._run, backoff=backoff)

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()

    def _run(self, supervisor: Supervised) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                sock.connect(self.path)
                sock.sendall(_hello(self.index, self.count))
                reply = self._reply(sock, supervisor)
            except OSError as exc:
                raise Outage(f"no reader answers on {self.path}: {exc.strerror or exc}") from None
            if reply is None:
                return
            if reply != "ok":
                raise Outage(f"the reader on {self.path} {reply}")
            self.links += 1
            supervisor.up()

            def stopping() -> bool:
                supervisor.beat()
                return supervisor.stopping.is_set()

            try:
                serve_engine(sock, self.consumer.handle, stopping)
            except OSError as exc:
                raise Outage(f"the link to the reader broke: {exc.strerror or exc}") from None
            if not supervisor.stopping.is_set():
                raise Outage("the reader ended its session (an engine left or the broker went); joining it again")
        finally:
            sock.close()

    @staticmethod
    def _reply(sock: socket.socket, supervisor: Supervised) -> str | None:
        """The reader's answer to our hello; it comes once the reader gathers engines (not during a session)."""
        sock.settimeout(_POLL_S)
        while not supervisor.stopping.is_set():
            supervisor.beat()
            try:
                return _line(sock, 500)  # byte by byte: the routed messages follow right after the line
            except TimeoutError:
                continue
        return None

    def heartbeat(self) -> Beat:
        consumer, supervisor = self.consumer, self.supervisor
        extra = {"messages": consumer.messages, "links": self.links, "restarts": supervisor.restarts}
        return consumer.stats.beat(supervisor.state, supervisor.alive_at, supervisor.last_error,
                                   f"engine {self.index}/{self.count} fed by the reader on {self.path}",
                                   extra)  # fmt: skip
