"""What every serial device simulator shares: its line, a worker thread, a timer queue, vanish and restore."""

from __future__ import annotations

import functools
import heapq
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Self

from firmware_bridge.sim import VirtualLine


class SimulatedSerialDevice:
    """Base of the lock-board and coil simulators; a subclass implements `_run` (its serving loop)."""

    thread_name = "device-sim"

    def __init__(self, line: VirtualLine) -> None:
        self.line = line
        self._lock = threading.RLock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.line.url

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.line.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Run `action` on the simulator thread `delay` seconds from now."""
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), action))

    def vanish(self, for_seconds: float | None = None) -> None:
        """The device disappears from the line; with `for_seconds` it comes back by itself."""
        with self._lock:
            self.line.vanish()
        if for_seconds is not None:
            self.after(for_seconds, self.restore)

    def restore(self) -> None:
        with self._lock:
            self.line.restore()

    def _run(self) -> None:
        raise NotImplementedError

    def _run_timers(self) -> None:
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > time.monotonic():
                    return
                _, _, action = heapq.heappop(self._timers)
            action()

    def _next_timer_wait(self, ceiling: float) -> float:
        with self._lock:
            return min(ceiling, max(0.0, self._timers[0][0] - time.monotonic())) if self._timers else ceiling


def serve_until_stopped(
    sim: SimulatedSerialDevice, vanishings: Iterable[tuple[float, float | None]], duration: float | None
) -> None:
    """What a `vendtrack sim` command does: schedule vanishings, print the URL first, serve until Ctrl-C."""
    for vanish_at, vanish_for in vanishings:
        sim.after(vanish_at, functools.partial(sim.vanish, vanish_for))
    print(sim.url, flush=True)
    sys.stdout.flush()
    sim.start()
    try:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
