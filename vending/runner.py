"""Drives authorised dispenses through the hardware, one unit of work per step, and reconciles after a crash.

Each step is one transaction on a pooled connection (`core.prepared.fast_unit_of_work`): read the facts (unless
the request just returned them), mark commanded, then settle or fail. `commanded` is committed before the
command is sent, and what was sensed commits with its charge (progress phases such as "opening" or "take"
are display, not facts: kept in memory and passed to `on_phase`); so after a crash every
in-flight dispense is either never commanded (failed, no charge), commanded (asked of the device: the
adapter's reconcile reads door/item sensor/weight; unknown -> failed, no charge, slot flagged for a count)
or sensed (charged now, exactly once through the ledger's idempotency key).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.db import unit_of_work
from core.errors import InvalidTransition, NotFound
from core.notes import N_
from core.prepared import fast_unit_of_work
from vending import dispense, faults
from vending.devices import MachineAdapter, Sensed, safe_call, said
from vending.dispense import DispenseView
from vending.dispense_states import AUTHORISED, SENSED
from vending.drivers import DevicePool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    facts: dispense.Facts
    dispense_id: int
    machine_id: int
    kind: str
    config: str
    ref: str
    quantity: int
    unit_weight: float | None


class DispenseRunner:
    """Executes dispenses; `submit` returns at once (the kiosk polls), `run` blocks (tests, bench, smoke)."""

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Clock, pool: DevicePool, max_workers: int = 4
    ) -> None:
        self.session_factory, self.clock, self.pool = session_factory, clock, pool
        self.engine = session_factory.kw["bind"]
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vending-dispense")
        self._closed = threading.Event()
        self.phases: dict[int, str] = {}  # in-memory progress (opening, take, vending, weighing) per dispense
        # told of each progress phase (dispense id, machine id, phase): vending.dispense_handoff keeps them durable
        self.on_phase: Callable[[int, int, str], None] | None = None

    def submit(self, dispense_id: int, known: dispense.Facts | None = None) -> Future[DispenseView]:
        self.phases[dispense_id] = "authorised"
        return self._executor.submit(self.run, dispense_id, known)

    def shutdown(self) -> None:
        self._closed.set()
        self._executor.shutdown(wait=True)

    def phase(self, dispense_id: int) -> str | None:
        """What the hardware is doing right now for a dispense run by this process (shown by the kiosk)."""
        return self.phases.get(dispense_id)

    def run(self, dispense_id: int, known: dispense.Facts | None = None) -> DispenseView:
        """Drive one authorised dispense; `known` is what authorise.request_for_run returned (saves a read)."""
        if known is not None and known.view.id == dispense_id:
            job = _job(known)
        else:
            with fast_unit_of_work(self.engine, one_statement=True) as work:
                job = _job(dispense.facts(work, dispense_id))
        try:
            adapter = self.pool.get(job.machine_id, job.kind, job.config)
        except Exception as exc:  # a driver that cannot be built is an offline device: no charge
            offline = Sensed(0, "device_offline", said(N_("driver could not start: %(error)s"), error=str(exc)))
            return self._finish(job, offline, commanded=False)
        try:
            with self.pool.machine_lock(job.machine_id):
                return self._run_locked(job, adapter)
        finally:
            self.phases.pop(dispense_id, None)

    def _run_locked(self, job: Job, adapter: MachineAdapter) -> DispenseView:
        baseline_box: dict[str, dict[str, object]] = {}

        def take_baseline() -> Sensed:
            baseline_box["b"] = adapter.baseline(job.ref)
            return Sensed(0)

        before = safe_call(take_baseline)
        if before.fault:
            return self._finish(job, before, commanded=False)
        baseline = baseline_box["b"]
        with fast_unit_of_work(self.engine, one_statement=True) as work:  # one UPDATE: no BEGIN/COMMIT round trips
            dispense.mark_commanded(work, job.dispense_id, baseline, self.clock.now())

        def progress(phase: str) -> None:
            self.phases[job.dispense_id] = phase
            if self.on_phase is not None:
                self.on_phase(job.dispense_id, job.machine_id, phase)

        sensed = safe_call(lambda: adapter.execute(job.ref, job.quantity, job.unit_weight, baseline, progress))
        return self._finish(job, sensed, commanded=True)

    def _finish(self, job: Job, sensed: Sensed, *, commanded: bool) -> DispenseView:
        now = self.clock.now()
        if not commanded or (sensed.taken == 0 and sensed.fault):
            with fast_unit_of_work(self.engine) as work:
                return dispense.fail(work, job.dispense_id, _reason(sensed), now, known=job.facts)
        flag = _reason(sensed) if sensed.fault else ""
        # sensed, the charge and the events in one transaction: sensed is durable no later than the charge, and a
        # crash before the commit leaves the dispense commanded, which reconcile() settles from the device.
        try:
            with fast_unit_of_work(self.engine) as work:
                return dispense.settle(work, job.facts, sensed.taken, sensed.detail, now, flag=flag)
        except (InvalidTransition, NotFound):
            raise
        except Exception:
            # charging failed: keep the sensed fact on its own so reconcile() completes it (never charged twice)
            try:
                with fast_unit_of_work(self.engine, one_statement=True) as work:
                    dispense.record_sensed(work, job.dispense_id, sensed.taken, sensed.detail, now)
            except Exception:
                log.exception("could not keep the sensed fact of dispense %s", job.dispense_id)
            raise

    def reconcile(self, idle_for: timedelta = timedelta(0)) -> list[DispenseView]:
        """Settle dispenses a crash left in flight, from the device's state. Never charges twice.

        `idle_for`: only dispenses untouched that long (another process may still be running younger ones);
        dispenses this runner is executing are always skipped."""
        with unit_of_work(self.session_factory) as session:
            pending = dispense.in_flight(session, untouched_since=self.clock.now() - idle_for)
        settled = []
        for row_id in pending:
            if row_id in self.phases:
                continue
            try:
                settled.append(self._reconcile_one(row_id))
            except Exception:
                log.exception("reconciling dispense %s failed; it stays in flight for the next start", row_id)
        return settled

    def _reconcile_one(self, row_id: int) -> DispenseView:
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            found = dispense.facts(session, row_id)
            if found.view.status == AUTHORISED:
                return dispense.fail(session, row_id, faults.NOT_SENT, now, flag_slot_too=False)
            if found.view.status == SENSED:
                return dispense.complete(session, row_id, now)
        job, baseline = _job(found), json.loads(found.baseline or "{}")
        sensed: Sensed | None
        try:
            adapter = self.pool.get(job.machine_id, job.kind, job.config)
            sensed = adapter.reconcile(job.ref, job.quantity, job.unit_weight, baseline)
        except Exception as exc:
            log.warning("device of dispense %s unreadable at restart: %s", row_id, exc)
            sensed = None
        if sensed is None:
            sensed = Sensed(0, "interrupted", faults.INTERRUPTED.encode())
        return self._finish(job, sensed, commanded=True)


def _job(found: dispense.Facts) -> Job:
    return Job(
        found,
        found.view.id,
        found.machine_id,
        found.machine_kind,
        found.driver_config,
        found.device_ref,
        found.view.quantity,
        found.unit_weight,
    )


def _reason(sensed: Sensed) -> str:
    """The stored reason of a fault (a note: its label translated when shown, the hardware's detail as it is)."""
    return faults.reason(sensed.fault, sensed.detail)
