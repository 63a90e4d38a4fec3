"""Background workers of a serving process: outbox dispatchers plus each domain's workers, with heartbeats."""

from __future__ import annotations

import gc
import logging
import os
import threading
from datetime import UTC, datetime

from core import push
from core.db import unit_of_work
from core.heartbeats import Beat, HeartbeatWriter
from core.outbox import Dispatcher
from core.runtime import AppServices, BackgroundWorker, LoopWorker
from core.wal import checkpointers_for
from web.domains import hook

log = logging.getLogger(__name__)


class DispatcherWorker:
    """One outbox dispatcher thread; several may run (in one or many processes)."""

    def __init__(self, services: AppServices, index: int = 0) -> None:
        self.name = f"outbox-dispatcher-{index}"
        self._services = services
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = self.alive_at = datetime.now(UTC)
        settings = services.settings
        self.dispatcher = Dispatcher(
            services.session_factory,
            services.consumers,
            services.clock,
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
        )

    def _beat(self) -> None:
        self.alive_at = datetime.now(UTC)

    def start(self) -> None:
        self.started_at = self.alive_at = datetime.now(UTC)
        self._thread = threading.Thread(
            target=self.dispatcher.run_forever,
            args=(self._stop, self._services.settings.outbox_poll_seconds, self._beat),
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def heartbeat(self) -> Beat:
        """Alive at the dispatcher's last round: a thread that died or hangs stops moving it."""
        return Beat(self.name, self.alive_at, self.started_at, info=f"pid {os.getpid()}")


def freeze_start_up_heap() -> int:
    """Move every object alive after start-up out of the cyclic garbage collector's reach; returns how many.

    A serving process holds about 160k tracked objects once its app, models, templates and workers are up
    (modules, SQLAlchemy metadata and compiled statements, translations), nearly all of them alive until the
    process ends. A full (generation 2) collection walks all of them: 160 ms on this project's 2-core CI machine
    under load, and it runs in whichever thread allocates at the wrong moment, a dispense's included. Frozen,
    they are never walked again (gc.freeze(), Python's documented use for long-lived start-up state), so a full
    collection only walks what the process made since. The cost: a reference cycle among start-up objects that
    later becomes garbage is never freed (start-up state lives as long as the process anyway)."""
    gc.collect()  # what start-up left as garbage goes now, not frozen for ever
    gc.freeze()
    return gc.get_freeze_count()


class WorkerSet:
    """A process's workers plus its heartbeat writer: started after them, stopped after them (its last beat says so)."""

    def __init__(self, workers: list[BackgroundWorker], services: AppServices | None = None) -> None:
        self.workers = list(workers)
        self.writer: HeartbeatWriter | None = None
        if services is not None:
            interval = services.settings.heartbeat_seconds
            self.writer = HeartbeatWriter(services.session_factory, lambda: list(self.workers), interval)

    def start(self) -> None:
        for worker in self.workers:
            log.info("starting worker %s", worker.name)
            worker.start()
        if self.writer is not None:
            self.writer.start()

    def stop(self) -> None:
        for worker in reversed(self.workers):
            try:
                worker.stop()
            except Exception:
                log.exception("stopping worker %s failed", worker.name)
        if self.writer is not None:
            self.writer.stop()


def storage_workers(services: AppServices) -> list[BackgroundWorker]:
    """On a SQLite file, WAL checkpoints in a thread of their own instead of inside a dispense's commit."""
    return list(checkpointers_for(services.session_factory.kw["bind"]))


def push_workers(services: AppServices) -> list[BackgroundWorker]:
    """On SQLite, push notices older than core.push.KEEP_FOR are deleted every minute (PostgreSQL keeps none)."""
    engine = services.session_factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        return []

    def prune() -> None:
        with unit_of_work(services.session_factory) as session:
            push.prune(session, services.clock.now())

    return [LoopWorker("push-prune", prune, interval=60.0)]


def dispatcher_workers(services: AppServices, count: int = 1) -> list[BackgroundWorker]:
    return [DispatcherWorker(services, i) for i in range(count)]


def domain_workers(app: object, services: AppServices) -> list[BackgroundWorker]:
    found: list[BackgroundWorker] = []
    for plugin in getattr(app, "extensions", {}).get("vendtrack_plugins", []):
        if (make := hook(plugin, "workers")) is not None:
            found.extend(make(services))
    return found
