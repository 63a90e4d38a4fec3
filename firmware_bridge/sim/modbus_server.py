"""A Modbus slave server for our simulators: Modbus TCP on a socket or RTU on a pseudo-terminal, with faults.

Several simulated devices (ids) share one server, as boards share one RS-485 line. On RTU an absent id stays
silent (pymodbus' own server answers exception 4 instead); on TCP it answers 0x0B like a gateway. The RTU side
models the wire (a pty carries bytes instantly at any baud rate) and counts frames that broke the 3.5-character
silence. Faults: no reply, an exception reply, a corrupted CRC (RTU), a dropped connection (TCP).
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import socket
import struct
import threading
import time
import tty
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from firmware_bridge.modbus.rtu import LineTiming, crc_ok, request_length, with_crc
from firmware_bridge.sim.modbus_device import SimDevice


class FaultKind(StrEnum):
    NO_REPLY = "no_reply"
    EXCEPTION = "exception"
    BAD_CRC = "bad_crc"  # RTU: the reply's CRC is flipped; on TCP it behaves as no reply
    DROP_CONNECTION = "drop_connection"  # TCP: the socket is closed instead of answering; RTU: no reply


@dataclass(slots=True)
class Fault:
    kind: FaultKind
    exception_code: int = 4
    remaining: int | None = None  # None: until cleared
    function: int | None = None  # only requests with this function code (None: all)


@dataclass(slots=True)
class ServerStats:
    requests: int = 0
    replies: int = 0
    gap_violations: int = 0  # RTU frames that started less than t3.5 after our last reply ended
    min_gap: float = float("inf")
    per_device: dict[int, int] = field(default_factory=dict)


class ModbusSimServer:
    """Serve `devices` (id -> SimDevice) over TCP or RTU in background threads. Start once; stop; start again."""

    def __init__(
        self, devices: Mapping[int, SimDevice], *, baudrate: int = 9600, parity: str = "N", model_wire_time: bool = True
    ) -> None:
        self.devices: dict[int, SimDevice] = dict(devices)
        self.timing = LineTiming(baudrate, 8, parity, 1)
        self.model_wire_time = model_wire_time
        self.stats = ServerStats()
        self.frames: collections.deque[bytes] = collections.deque(maxlen=64)  # requests: RTU frames, TCP unit+PDU
        self._faults: dict[int, Fault] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._fds: list[int] = []
        self.address = ""

    # -- faults -----------------------------------------------------------------------------------------
    def inject(
        self,
        kind: FaultKind | str,
        device_id: int = 0,
        count: int | None = None,
        exception_code: int = 4,
        function: int | None = None,
    ) -> None:
        """Make `device_id` (0: every device) misbehave for its next `count` requests (None: until cleared),
        optionally only for one function code."""
        with self._lock:
            self._faults[device_id] = Fault(FaultKind(kind), exception_code, count, function)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, device_id: int, function: int) -> Fault | None:
        with self._lock:
            key = device_id if device_id in self._faults else 0 if 0 in self._faults else None
            if key is None:
                return None
            fault = self._faults[key]
            if fault.function is not None and fault.function != function:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[key]
            return fault

    # -- one request, either transport ----------------------------------------------------------------------
    def respond(self, device_id: int, pdu: bytes, tcp: bool) -> tuple[bytes | None, FaultKind | None]:
        """The reply PDU (None: stay silent) and the fault the transport must act out (drop, corrupt CRC)."""
        with self._lock:
            self.stats.requests += 1
            self.stats.per_device[device_id] = self.stats.per_device.get(device_id, 0) + 1
        if device_id == 0 and not tcp:  # broadcast: everyone acts, nobody answers
            for device in self.devices.values():
                device.handle(pdu)
            return None, None
        target = self.devices.get(device_id)
        if target is None:
            return (bytes((pdu[0] | 0x80, 0x0B)) if tcp and pdu else None), None
        fault = self._take_fault(device_id, pdu[0] if pdu else 0)
        if fault is not None:
            if fault.kind is FaultKind.EXCEPTION:
                return bytes((pdu[0] | 0x80, fault.exception_code)), None
            if fault.kind is FaultKind.NO_REPLY or (tcp and fault.kind is FaultKind.BAD_CRC):
                return None, None
            if fault.kind is FaultKind.DROP_CONNECTION:
                return None, (FaultKind.DROP_CONNECTION if tcp else None)
        reply = target.handle(pdu)
        with self._lock:
            self.stats.replies += 1
        return reply, (fault.kind if fault is not None else None)

    # -- TCP --------------------------------------------------------------------------------------------
    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = a free port); returns "HOST:PORT"."""
        self._stop.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        bound_host, bound_port = listener.getsockname()[:2]
        self.address = f"{bound_host}:{bound_port}"
        self._spawn(self._accept_loop, "modbus-sim-accept")
        return self.address

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(0.2)
            with self._lock:
                self._connections.add(conn)
            self._spawn(lambda c=conn: self._serve_tcp(c), "modbus-sim-conn")

    def _serve_tcp(self, conn: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                header = self._recv_exact(conn, 7)
                if header is None:
                    return
                tid, pid, length, unit = struct.unpack(">HHHB", header)
                pdu = self._recv_exact(conn, length - 1) if length > 1 else b""
                if pdu is None:
                    return
                self.frames.append(bytes((unit,)) + pdu)
                reply, action = self.respond(unit, pdu, tcp=True)
                if action is FaultKind.DROP_CONNECTION:
                    return
                if reply is not None:
                    conn.sendall(struct.pack(">HHHB", tid, pid, len(reply) + 1, unit) + reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(n - len(data))
            except TimeoutError:
                continue
            if not chunk:
                return None
            data += chunk
        return data

    # -- RTU on a pseudo-terminal ------------------------------------------------------------------------
    def start_rtu(self, link: str | None = None) -> str:
        """Open a pty pair and serve RTU on it; returns the device path a master opens (any baud rate works).

        With `link`, a symlink of that name points at the pty (as udev's /dev/serial/by-id does), so a master
        configured with the link finds the port again after a stop/start."""
        self._stop.clear()
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._fds = [master, slave]  # keep the slave end open so the master never reads EIO between clients
        self.address = os.ttyname(slave)
        if link:
            temporary = f"{link}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(self.address, temporary)
            os.replace(temporary, link)
            self.address = link
        self._spawn(lambda: self._serve_rtu(master), "modbus-sim-rtu")
        return self.address

    def _serve_rtu(self, fd: int) -> None:
        buffer = b""
        last_reply_end = last_chunk_at = 0.0
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 512)
            except OSError:
                return
            arrived = time.monotonic()
            if buffer and arrived - last_chunk_at > self.timing.t35:
                buffer = b""  # a silence of t3.5 ends any frame: a real slave resynchronises here
            last_chunk_at = arrived
            if not buffer and last_reply_end:
                gap = arrived - last_reply_end
                self.stats.min_gap = min(self.stats.min_gap, gap)
                if gap < self.timing.t35:
                    self.stats.gap_violations += 1
            buffer += chunk
            while buffer:
                length = request_length(buffer)
                if length is None or (length > 0 and len(buffer) < length):
                    break
                if length < 0 or not crc_ok(buffer[:length]):
                    buffer = b""  # a real slave drops the frame and waits for the next silence
                    break
                frame, buffer = buffer[:length], buffer[length:]
                self.frames.append(frame)
                reply, action = self.respond(frame[0], frame[1:-2], tcp=False)
                if reply is not None:
                    out = with_crc(bytes((frame[0],)) + reply)
                    if action is FaultKind.BAD_CRC:
                        out = out[:-2] + bytes((out[-2] ^ 0xFF, out[-1] ^ 0x5A))
                    if self.model_wire_time:
                        time.sleep(
                            self.timing.wire_time(len(frame)) + self.timing.t35 + self.timing.wire_time(len(out))
                        )
                    try:
                        os.write(fd, out)
                    except OSError:
                        return
                    last_reply_end = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop serving: close the listener, every connection and the pty; join the threads."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    def __enter__(self) -> ModbusSimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
