"""What the composition root hands to domains: services, background workers and demo context."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.outbox import ConsumerRegistry
from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppServices:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    consumers: ConsumerRegistry
    extras: dict[str, Any] = field(default_factory=dict)  # per-domain shared objects (driver pools)


class BackgroundWorker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class LoopWorker:
    """A daemon thread calling `step()` every `interval` seconds until stopped; errors are logged."""

    def __init__(self, name: str, step: Callable[[], Any], interval: float = 1.0) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_beat: float = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                log.exception("worker %s step failed", self.name)
            self.last_beat = time.monotonic()
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass(slots=True)
class DemoContext:
    """Shared state of a running demo: where things live and what each domain started."""

    services: AppServices
    instance_path: Path
    site_id: int
    site_code: str
    base_url: str = ""
    workers: list[BackgroundWorker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines printed at start (logins, simulator ports)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmokeResult:
    ok: bool
    detail: str


PROCESS_ROLE = "process_role"  # AppServices.extras key, set by `vendtrack serve` (docs/serving.md)


def process_role(services: AppServices) -> str:
    """What this process does: "all" (one process serves and runs the workers: demo, waitress, tests), "web"
    (answers requests only; devices and background loops live in the workers process) or "workers"."""
    return str(services.extras.get(PROCESS_ROLE, "all"))
