"""Background workers of a serving process: outbox dispatchers plus each domain's workers, with heartbeats."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from core.db import unit_of_work
from core.outbox import Dispatcher, beat
from core.runtime import AppServices, BackgroundWorker
from core.wal import WalCheckpointer, is_file_sqlite

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5


def _heartbeat_writer(services: AppServices, name: str) -> Callable[[], None]:
    last = [0.0]

    def on_beat() -> None:
        import time

        if time.monotonic() - last[0] < HEARTBEAT_SECONDS:
            return
        last[0] = time.monotonic()
        try:
            with unit_of_work(services.session_factory) as session:
                beat(session, name, services.clock.now(), HEARTBEAT_SECONDS, info=f"pid {os.getpid()}")
        except Exception:
            log.exception("heartbeat of %s failed", name)

    return on_beat


class DispatcherWorker:
    """One outbox dispatcher thread; several may run (in one or many processes)."""

    def __init__(self, services: AppServices, index: int = 0) -> None:
        self.name = f"outbox-dispatcher-{socket.gethostname()}-{os.getpid()}-{index}"
        self._services = services
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        settings = services.settings
        self.dispatcher = Dispatcher(
            services.session_factory,
            services.consumers,
            services.clock,
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
        )

    def start(self) -> None:
        on_beat = _heartbeat_writer(self._services, self.name)
        self._thread = threading.Thread(
            target=self.dispatcher.run_forever,
            args=(self._stop, self._services.settings.outbox_poll_seconds, on_beat),
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class WorkerSet:
    def __init__(self, workers: list[BackgroundWorker]) -> None:
        self.workers = workers

    def start(self) -> None:
        for worker in self.workers:
            log.info("starting worker %s", worker.name)
            worker.start()

    def stop(self) -> None:
        for worker in reversed(self.workers):
            try:
                worker.stop()
            except Exception:
                log.exception("stopping worker %s failed", worker.name)


def storage_workers(services: AppServices) -> list[BackgroundWorker]:
    """On a SQLite file, WAL checkpoints in a thread of their own instead of inside a dispense's commit."""
    engine = services.session_factory.kw["bind"]
    return [WalCheckpointer(engine)] if is_file_sqlite(engine) else []


def dispatcher_workers(services: AppServices, count: int = 1) -> list[BackgroundWorker]:
    return [DispatcherWorker(services, i) for i in range(count)]


def domain_workers(app: object, services: AppServices) -> list[BackgroundWorker]:
    from web.domains import hook

    found: list[BackgroundWorker] = []
    for plugin in getattr(app, "extensions", {}).get("vendtrack_plugins", []):
        if (make := hook(plugin, "workers")) is not None:
            found.extend(make(services))
    return found
