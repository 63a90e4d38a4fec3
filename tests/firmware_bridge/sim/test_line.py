"""The simulators' virtual line: a line nobody reads loses bytes instead of blocking, so it always closes."""

from __future__ import annotations

import socket
import threading
import time

import serial

from firmware_bridge.sim import WRITE_TIMEOUT_S, VirtualLine


def _writer(line: VirtualLine, frames: int) -> tuple[threading.Thread, threading.Event]:
    """Write `frames` 1 kB frames from a thread, as a simulator's poll thread does."""
    done = threading.Event()

    def write() -> None:
        for _ in range(frames):
            line.write(b"\xfa\xfb\x41\x00\x40" * 200)
        done.set()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, done


def test_a_pty_nobody_reads_loses_bytes_and_closes() -> None:
    line = VirtualLine()
    port = serial.serial_for_url(line.url, timeout=0)  # the driver's end is open but never read
    try:
        _thread, done = _writer(line, frames=2000)  # 2 MB: far past the pty's buffer
        assert done.wait(30), "the writer blocked on a full pty"
        line.close()
    finally:
        port.close()


def test_the_line_still_carries_bytes_to_a_reader() -> None:
    line = VirtualLine()
    port = serial.serial_for_url(line.url, timeout=2)
    try:
        line.write(b"\x02\x00\x31\x03\x36")
        assert port.read(5) == b"\x02\x00\x31\x03\x36"
    finally:
        port.close()
        line.close()


def test_a_tcp_client_that_stops_reading_does_not_block_the_writer() -> None:
    line = VirtualLine(tcp=("127.0.0.1", 0))
    client = socket.create_connection(line.tcp)  # type: ignore[arg-type]
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    gave_up = threading.Event()

    def write_until_a_send_gives_up() -> None:  # a send into full buffers waits WRITE_TIMEOUT_S, then returns
        while not gave_up.is_set():
            started = time.monotonic()
            line.write(b"\xfa\xfb\x41\x00\x40" * 200)
            if time.monotonic() - started >= WRITE_TIMEOUT_S / 2:
                gave_up.set()

    try:
        while line.read(0.05) == b"" and line._client is None:  # the simulator's read loop accepts it
            pass
        writer = threading.Thread(target=write_until_a_send_gives_up, daemon=True)
        writer.start()
        assert gave_up.wait(60), "a send into a client that stopped reading never returned"
        writer.join(30)
        closed = threading.Thread(target=line.close, daemon=True)
        closed.start()
        closed.join(30)
        assert not closed.is_alive(), "close() hung behind a blocked send"
    finally:
        client.close()
