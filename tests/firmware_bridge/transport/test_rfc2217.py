"""rfc2217:// URLs: the KR-CU16 driver through an RFC 2217 (telnet COM-port) server in front of the simulator.

The server side is pyserial's own `rfc2217.PortManager`, bridged to the simulator's pty; the modem lines
a pty does not have read as inactive.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Iterator

import pytest
from serial import rfc2217

from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.protocols import DoorOutcome
from firmware_bridge.sim.lockboard import LockBoardSim


class _PtyPort:
    """Just enough of a serial port for PortManager: settings are accepted, modem lines are off."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.baudrate, self.bytesize, self.parity, self.stopbits = 19200, 8, "N", 1
        self.rts = self.dtr = self.break_condition = self.rtscts = self.xonxoff = False
        self.cts = self.dsr = self.ri = self.cd = False

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def reset_input_buffer(self) -> None: ...

    def reset_output_buffer(self) -> None: ...


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


@contextlib.contextmanager
def rfc2217_server(device: str) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        port = _PtyPort(device)
        manager = rfc2217.PortManager(port, _Connection(conn))
        while not stop.is_set():
            ready = select.select([conn, port.fd], [], [], 0.05)[0]
            if conn in ready:
                data = conn.recv(1024)
                if not data:
                    break
                port.write(b"".join(manager.filter(data)))
            if port.fd in ready:
                conn.sendall(b"".join(manager.escape(os.read(port.fd, 1024))))
        conn.close()
        os.close(port.fd)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"rfc2217://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyserial's rfc2217 uses setDaemon()
def test_unlock_through_an_rfc2217_server() -> None:
    with LockBoardSim(boards=(0,), unlock_delay=0.03) as sim, rfc2217_server(sim.url) as url:
        bus = KerongLockerBus.from_config({"port": url, "boards": [0], "slots": {"R1": [0, 0]}})
        try:
            _, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open("R1", 1.0)
            assert event.outcome is DoorOutcome.OPENED and sim.unlock_count(0, 0) == 1
        finally:
            bus.close()
