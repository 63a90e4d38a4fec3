"""A serial line opened by pyserial URL, with a bus lock, RS-485 turnaround and reopen-with-backoff.

One `SerialTransport` per physical bus. Callers take `transport.lock` around a request/reply
transaction (`transact` does it for them). When the port vanishes (USB unplugged, converter
rebooted) every call raises `BusOffline` until a reopen succeeds; reopen attempts are spaced by an
exponential backoff so a dead port costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import serial
import serial.rs485

from firmware_bridge.errors import BusOffline, DeviceTimeout
from firmware_bridge.transport.framing import FrameScanner
from firmware_bridge.transport.line import LineSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

_PARITY = {
    "N": serial.PARITY_NONE,
    "E": serial.PARITY_EVEN,
    "O": serial.PARITY_ODD,
    "M": serial.PARITY_MARK,
    "S": serial.PARITY_SPACE,
}
_STOP = {1: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2: serial.STOPBITS_TWO}


class SerialTransport:
    """Owns one pyserial port. Thread-safe: every exchange runs under `lock` (the bus lock)."""

    def __init__(
        self,
        line: LineSettings,
        *,
        name: str = "",
        read_slice: float = 0.05,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.line = line
        self.name = name or line.url
        self.lock = threading.RLock()
        self.read_slice = read_slice
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._monotonic = monotonic
        self._sleep = sleep  # the turnaround wait (tests pass a recorder)
        self._port: Any = None
        self._fd: int | None = None  # posix fast path: select + os.read on the port's descriptor
        self._backoff = backoff_initial
        self._next_attempt = 0.0
        self._last_error = ""
        self._last_rx = 0.0
        self._turnaround = line.turnaround
        self.reopens = 0
        self.timeouts = 0

    # -- opening and losing the port -------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._port is not None

    def ensure_open(self) -> None:
        """Open the port if it is closed, respecting the backoff; raise BusOffline when that fails."""
        if self._port is not None:
            return
        now = self._monotonic()
        if now < self._next_attempt:
            raise BusOffline(
                f"{self.name}: the port is offline ({self._last_error}); next reopen attempt in "
                f"{self._next_attempt - now:.2f} s. Check the cable/USB adapter and the port URL."
            )
        try:
            self._open()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._last_error = str(exc) or type(exc).__name__
            self._next_attempt = now + self._backoff
            self._backoff = min(self._backoff * 2, self.backoff_max)
            raise BusOffline(
                f"{self.name}: cannot open {self.line.url!r} ({self._last_error}); retrying with backoff. "
                "Check that the device is plugged in and the URL is right."
            ) from exc
        if self._last_error:
            self.reopens += 1
            log.warning("%s: port %s is back", self.name, self.line.url)
        self._backoff = self.backoff_initial
        self._last_error = ""

    def _open(self) -> None:
        line = self.line
        port = serial.serial_for_url(line.url, do_not_open=True)
        port.baudrate = line.baud
        port.parity = _PARITY[line.parity]
        port.stopbits = _STOP[line.stop_bits]
        port.bytesize = line.byte_size
        port.timeout = self.read_slice
        if isinstance(port, serial.Serial):  # a local UART; rfc2217:// refuses a write timeout
            port.write_timeout = 1.0
            if os.name == "posix":
                port.exclusive = True  # flock: a second process driving the same bus would interleave frames
        try:
            port.open()
        except serial.SerialException as exc:
            if "exclusively lock" in str(exc):
                raise serial.SerialException(
                    f"{line.url} is held by another process: only one vendtrack process may drive a bus "
                    "(stop the other `vendtrack serve`, or a terminal program left open on the port)"
                ) from exc
            raise
        if line.rs485:
            try:
                port.rs485_mode = serial.rs485.RS485Settings()
            except (OSError, ValueError, serial.SerialException) as exc:
                port.rs485_mode = None
                port.close()
                raise serial.SerialException(
                    f"RS-485 mode is not supported by {line.url} ({exc}); set rs485=false "
                    "(most USB RS-485 adapters switch direction themselves)"
                ) from exc
        self._port = port
        fd = getattr(port, "fd", None)
        self._fd = fd if isinstance(port, serial.Serial) and isinstance(fd, int) else None

    def close(self) -> None:
        with self.lock:
            port, self._port, self._fd = self._port, None, None
            if port is not None:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def lost(self, exc: BaseException) -> BusOffline:
        """Close a port that failed mid-exchange; return the BusOffline to raise."""
        self.close()
        self._last_error = str(exc) or type(exc).__name__
        self._next_attempt = self._monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.backoff_max)
        log.warning("%s: port %s lost: %s", self.name, self.line.url, self._last_error)
        return BusOffline(f"{self.name}: lost the port {self.line.url!r} ({self._last_error}); reopening with backoff")

    # -- bytes --------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self.ensure_open()
        gap = self._turnaround - (self._monotonic() - self._last_rx)
        if gap > 0:
            self._sleep(gap)
        try:
            fd = self._fd
            if fd is None:
                self._port.write(data)
            else:  # posix fast path: one write(2); pyserial's write adds a select per call
                try:
                    sent = os.write(fd, data)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    self._port.write(data[sent:])
        except (serial.SerialException, OSError) as exc:
            raise self.lost(exc) from exc

    def read_available(self, timeout: float) -> bytes:
        """Wait up to `timeout` for bytes and return whatever is available (b"" on timeout)."""
        self.ensure_open()
        try:
            fd = self._fd
            if fd is not None:
                if not select.select((fd,), (), (), timeout)[0]:
                    return b""
                data = os.read(fd, 4096)
                if not data:
                    raise serial.SerialException("the device reports data ready but returned none (unplugged?)")
            else:
                port = self._port
                deadline = self._monotonic() + timeout
                data = port.read(port.in_waiting or 1)
                while not data and self._monotonic() < deadline:
                    data = port.read(port.in_waiting or 1)
        except BlockingIOError:
            return b""
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise self.lost(exc) from exc
        if data:
            self._last_rx = self._monotonic()
        return data

    def drain(self) -> int:
        """Discard bytes already waiting (late replies of an earlier exchange); return how many."""
        n = 0
        while True:
            data = self.read_available(0)
            if not data:
                return n
            n += len(data)

    def transact(self, request: bytes, scanner: FrameScanner, accept: Callable[[bytes], T | None], timeout: float) -> T:
        """Send `request`, then read frames until `accept` returns a value; DeviceTimeout after `timeout` s.

        Frames `accept` rejects (another board's, a stale one) are ignored. Runs under the bus lock.
        """
        with self.lock:
            self.ensure_open()
            if self.drain():
                scanner.reset()
            self.write(request)
            deadline = self._monotonic() + timeout
            remaining = timeout
            while remaining > 0:
                data = self.read_available(remaining)
                if data:
                    for frame in scanner.feed(data):
                        value = accept(frame)
                        if value is not None:
                            return value
                remaining = deadline - self._monotonic()
            scanner.reset()
            self.timeouts += 1
            raise DeviceTimeout(
                f"{self.name}: no valid reply to {request.hex(' ')} within {timeout * 1000:.0f} ms "
                f"({scanner.bad_frames} bad frames so far); check wiring, address and baud rate"
            )
