"""Software-timed relay pulses with a guaranteed off, for Modbus relay boards that cannot time a pulse themselves.

Some boards (and pymodbus' own server) store the Waveshare "flash" write to coil 0x0200 + channel as a plain
coil, so the lock relay is never pulsed or stays latched on. For those, the bus owner switches the relay on
itself and this watchdog switches it off: the off deadline is armed *before* the on-write (a lost reply to
the on-write still gets its off), a failed off-write is retried until the board takes it, and `stop()` drives
every pending relay off. A process that dies mid-pulse leaves the relay on; the locker's `start()` then
switches every relay off before anything else is sent to that board.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from firmware_bridge.errors import BridgeError

log = logging.getLogger(__name__)
RETRY_S = 0.1  # spacing of retries of a failed off-write


class RelayWatchdog:
    """Owns the off-deadlines of software-timed pulses on one locker; one daemon thread, started on first use."""

    def __init__(self, switch_off: Callable[[int, int], None], monotonic: Callable[[], float] = time.monotonic) -> None:
        self._switch_off = switch_off  # (device id, relay) -> None; raises BridgeError when the board did not take it
        self._monotonic = monotonic
        self._due: list[tuple[float, int, int, int]] = []  # (off at, seq, device id, relay)
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.offs_written = 0
        self.off_failures = 0

    def arm(self, device_id: int, relay: int, seconds: float) -> None:
        """Promise an off-write `seconds` from now (call before switching the relay on)."""
        with self._cond:
            heapq.heappush(self._due, (self._monotonic() + seconds, next(self._seq), device_id, relay))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="relay-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> list[tuple[int, int]]:
        with self._cond:
            return [(device_id, relay) for _, _, device_id, relay in self._due]

    def stop(self, timeout: float = 5.0) -> None:
        """Switch every pending relay off now (best effort within `timeout`) and end the thread."""
        with self._cond:
            self._stopping = True
            self._due = [(0.0, seq, d, r) for _, seq, d, r in self._due]
            heapq.heapify(self._due)
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._due:
                        if self._stopping:
                            return
                        self._cond.wait()
                        continue
                    wait = self._due[0][0] - self._monotonic()
                    if wait <= 0:
                        _, _, device_id, relay = heapq.heappop(self._due)
                        break
                    self._cond.wait(wait)
            self._off(device_id, relay)

    def _off(self, device_id: int, relay: int) -> None:
        try:
            self._switch_off(device_id, relay)
        except BridgeError as exc:
            self.off_failures += 1
            log.warning("relay %d on device %d did not take its off-write (%s); retrying", relay, device_id, exc)
            with self._cond:
                if not self._stopping or self.off_failures < 50:
                    heapq.heappush(self._due, (self._monotonic() + RETRY_S, next(self._seq), device_id, relay))
            return
        self.offs_written += 1
