"""A supervised background thread: its body is restarted with exponential backoff whenever it raises or returns.

States (one table, `core.heartbeats.WORKER`):

    starting ─► running ◄──► down            down: the peer is unreachable (an `Outage`), retried quietly
                   ▲ │        ▲ │             backoff: an unexpected error, logged with its traceback
                   │ ▼        │ ▼             down and backoff may repeat; any state ─► stopped (on stop())
                   backoff ◄──┘

The body receives the `Supervised` object: it calls `beat()` whenever it proves progress (the heartbeat's
"alive at"), `up()` once its peer answers, and checks `stopping` between steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from core.heartbeats import WORKER, WorkerState

log = logging.getLogger(__name__)

class Outage(Exception):
    """An expected failure of the peer (connection refused or lost, login refused): retried without a traceback."""


class Supervised:
    def __init__(
        self,
        name: str,
        body: Callable[[Supervised], None],
        backoff: tuple[float, float] = (1.0, 30.0),
        healthy_after_s: float = 60.0,
        give_up_if_never_up: bool = False,
    ) -> None:
        self.name, self.body = name, body
        self.give_up_if_never_up = give_up_if_never_up  # a command run by a person: say why at once, do not retry
        self.was_up = False
        self.backoff = backoff
        self.healthy_after_s = healthy_after_s  # a run this long resets the backoff to its minimum
        self.state = WorkerState.STOPPED
        self.stopping = threading.Event()
        self.alive_at = self.started_at = datetime.now(UTC)
        self.restarts = 0  # runs that ended on an unexpected error
        self.outages = 0
        self.last_error = ""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _move(self, target: WorkerState) -> None:
        with self._lock:
            WORKER.check(f"worker {self.name}", self.state, target)
            self.state = target

    def beat(self) -> None:
        self.alive_at = datetime.now(UTC)

    def up(self) -> None:
        """The body reached its peer: running (and the last outage's sentence is kept for the record)."""
        if self.state != WorkerState.STOPPED:
            self._move(WorkerState.RUNNING)
        self.was_up = True
        self.beat()

    def start(self) -> None:
        self._move(WorkerState.STARTING)
        self.stopping.clear()
        self.started_at = datetime.now(UTC)
        self.beat()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _pause(self, seconds: float) -> bool:
        """Wait before the next try, beating meanwhile (the supervisor is alive); True when stopped."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            self.beat()
            if self.stopping.wait(min(left, 1.0)):
                return True
        return self.stopping.is_set()

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                self.body(self)
                if self.stopping.is_set():
                    break
                raise RuntimeError("the loop returned on its own")
            except Outage as exc:
                self.outages += 1
                self.last_error = str(exc)
                self._move(WorkerState.DOWN)
                if self.give_up_if_never_up and not self.was_up:
                    break
                log.warning("%s: %s; retrying in %.0f s", self.name, exc, delay)
            except BaseException as exc:  # a worker thread has no one above it to catch SystemExit and the like
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                self._move(WorkerState.BACKOFF)
                log.exception("%s died; restarting in %.0f s", self.name, delay)
            if time.monotonic() - began >= self.healthy_after_s:
                delay = self.backoff[0]
            if self._pause(delay):
                break
            delay = min(delay * 2, self.backoff[1])
        self._move(WorkerState.STOPPED)
