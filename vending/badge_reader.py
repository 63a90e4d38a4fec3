"""A serial badge reader over pyserial: frames (STX..ETX or CR/LF lines) become normalised badges.

Desk and panel readers with a serial/USB-CDC port send one read per frame, e.g. b"\\x0204A22B1C\\x03" or
b"04:A2:2B:1C\\r\\n" or "123:45678\\r". Bad reads are reported, never fatal; the loop keeps reading.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import serial

from vending.badges import Badge, BadgeError, normalise

log = logging.getLogger(__name__)
STX, ETX = 0x02, 0x03
TERMINATORS = (b"\r", b"\n", bytes([ETX]))


class FrameSplitter:
    """Splits a byte stream into badge frames; tolerant of STX/ETX, CR, LF and CRLF."""

    def __init__(self, max_len: int = 64) -> None:
        self._buffer = bytearray()
        self._discarding = False  # after an over-long run: skip to the next terminator
        self.max_len = max_len

    def feed(self, data: bytes) -> list[str]:
        frames = []
        for byte in data:
            if byte == STX:
                self._buffer.clear()
                continue
            if bytes([byte]) in TERMINATORS:
                if self._buffer and not self._discarding:
                    frames.append(self._buffer.decode("ascii", errors="replace"))
                self._buffer.clear()
                self._discarding = False
                continue
            if self._discarding:
                continue
            self._buffer.append(byte)
            if len(self._buffer) > self.max_len:
                self._buffer.clear()  # noise without a terminator: drop it, resynchronise on the next one
                self._discarding = True
        return frames


class SerialBadgeReader:
    """Reads a serial port (any pyserial URL) on a thread and calls `on_badge` for each good read."""

    def __init__(
        self,
        url: str,
        on_badge: Callable[[Badge], None],
        baudrate: int = 9600,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.url, self.baudrate = url, baudrate
        self.on_badge, self.on_error = on_badge, on_error or (lambda message: log.warning("%s", message))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._splitter = FrameSplitter()
        self.opened = threading.Event()  # set while the port is open (tests wait for it)
        self.name = f"badge-reader@{url}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.1)
            except (serial.SerialException, OSError) as exc:
                self.on_error(f"badge reader {self.url}: cannot open ({exc}); retrying")
                self._stop.wait(1.0)
                continue
            self.opened.set()
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                self.on_error(f"badge reader {self.url}: port lost ({exc}); reopening")
            finally:
                self.opened.clear()
                port.close()

    def _read(self, port: serial.SerialBase) -> None:
        while not self._stop.is_set():
            data = port.read(64)
            for frame in self._splitter.feed(data):
                try:
                    self.on_badge(normalise(frame))
                except BadgeError as exc:
                    self.on_error(f"badge reader {self.url}: {exc.message}")
