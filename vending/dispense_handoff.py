"""Hands authorised dispenses to the process that owns the machines, and reports their progress to the kiosk screens.

One process drives the hardware (one process per bus): the workers process of a multi-process `vendtrack serve`,
or the only process of `vendtrack demo`, a single-process serve and the tests (core.runtime.process_role "all").

    kiosk POST /dispense (any web process) ── authorised, committed
        ├─ role "all":  run here (DispenseRunner.submit)
        └─ role "web":  push notice on `vending:dispense` ──► workers process: DispenseTaker runs it
                        (and every TAKER_SCAN_S it runs any fresh authorised dispense whose notice it missed)
    runner progress ("opening", "take", ...) and the outcome ──► PhaseWriter thread ──► vending.kiosk_state
                                                                 (durable, pushed on `kiosk:<machine>`)

The PhaseWriter is a queue and a thread so the hardware's timing never waits for a database write.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import push
from core.db import unit_of_work
from core.runtime import AppServices, process_role
from vending import dispense, kiosk_state
from vending.models import Dispense, Machine
from vending.runtime import runtime

log = logging.getLogger(__name__)

CHANNEL = "vending:dispense"
TAKER_SCAN_S = 2.0
FRESH_FOR = timedelta(seconds=60)  # an authorised dispense older than this is left to the runner's reconcile
WRITER_KEY = "vending.phase_writer"
_writer_lock = threading.Lock()


class PhaseWriter:
    """Writes progress phases and outcomes to vending.kiosk_state, in order, from a thread of its own."""

    def __init__(self, services: AppServices) -> None:
        self.services = services
        self._queue: queue.SimpleQueue[tuple[int, int | None, str, bool]] = queue.SimpleQueue()
        self._codes: dict[int, str] = {}  # machine id -> code
        self._thread = threading.Thread(target=self._run, name="vending-phase-writer", daemon=True)
        self._thread.start()

    def phase(self, dispense_id: int, machine_id: int | None, phase: str) -> None:
        self._queue.put((dispense_id, machine_id, phase, False))

    def outcome(self, dispense_id: int, machine_id: int | None) -> None:
        """The dispense ended (or the runner gave up on it): its status as recorded in the database."""
        self._queue.put((dispense_id, machine_id, "", True))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while True:  # everything already queued goes in the same transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:
                log.exception("kiosk phases of dispenses %s not recorded", [b[0] for b in batch])

    def _write(self, batch: list[tuple[int, int | None, str, bool]]) -> None:
        now = self.services.clock.now()
        with unit_of_work(self.services.session_factory) as session:
            for dispense_id, machine_id, phase, final in batch:
                code = self._code(session, dispense_id, machine_id)
                if code is None:
                    continue
                if final:
                    view = dispense.facts(session, dispense_id).view
                    kiosk_state.record_phase(session, code, dispense_id, view.phase or view.status, now, view.status)
                else:
                    kiosk_state.record_phase(session, code, dispense_id, phase, now)

    def _code(self, session: Session, dispense_id: int, machine_id: int | None) -> str | None:
        if machine_id is not None and machine_id in self._codes:
            return self._codes[machine_id]
        found = session.execute(
            select(Machine.id, Machine.code).join(Dispense, Dispense.machine_id == Machine.id).where(
                Dispense.id == dispense_id
            )
        ).first()
        if found is None:
            return None
        self._codes[found.id] = found.code
        return str(found.code)


def phase_writer(services: AppServices) -> PhaseWriter:
    """This process's writer, wired to its runner's progress on first use."""
    with _writer_lock:
        writer: PhaseWriter | None = services.extras.get(WRITER_KEY)
        if writer is None:
            writer = PhaseWriter(services)
            runtime(services).runner.on_phase = writer.phase
            services.extras[WRITER_KEY] = writer
        return writer


def run_here(services: AppServices, dispense_id: int, known: dispense.Facts | None = None) -> Future[object]:
    """Run the dispense in this process; its outcome reaches the screen when the runner is done."""
    writer = phase_writer(services)
    future = runtime(services).runner.submit(dispense_id, known)
    machine_id = known.machine_id if known is not None else None
    future.add_done_callback(lambda _f: writer.outcome(dispense_id, machine_id))
    return future  # type: ignore[return-value]


def hand_over(services: AppServices, dispense_id: int, known: dispense.Facts | None = None) -> None:
    """An authorised (committed) dispense: run it here, or tell the workers process to."""
    if process_role(services) != "web":
        run_here(services, dispense_id, known)
        return
    with unit_of_work(services.session_factory) as session:
        push.publish(session, CHANNEL, {"id": dispense_id}, services.clock.now())


class DispenseTaker:
    """The workers process's end of the hand-over: runs dispenses the web processes authorised."""

    name = "vending-dispense-taker"

    def __init__(self, services: AppServices) -> None:
        self.services = services
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started: set[int] = set()

    def start(self) -> None:
        phase_writer(self.services)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with push.hub_for(self.services).subscribe({CHANNEL}) as sub:
            while not self._stop.is_set():
                sub.get(TAKER_SCAN_S)  # a notice or the scan interval: either way, look for work
                try:
                    self.take_waiting()
                except Exception:
                    log.exception("looking for authorised dispenses failed; trying again")

    def take_waiting(self) -> list[int]:
        since = self.services.clock.now() - FRESH_FOR
        with unit_of_work(self.services.session_factory) as session:
            waiting = session.scalars(
                select(Dispense.id).where(Dispense.status == "authorised", Dispense.created_at >= since)
            ).all()
        taken = [i for i in waiting if i not in self.started]
        self.started = (self.started & set(waiting)) | set(taken)  # forget those that moved on
        for dispense_id in taken:
            run_here(self.services, dispense_id)
        return taken
