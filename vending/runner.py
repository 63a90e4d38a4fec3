"""Drives authorised dispenses through the hardware, one unit of work per step, and reconciles after a crash.

`commanded` is committed before the command is sent, `sensed` before the charge; so after a crash every
in-flight dispense is either never commanded (failed, no charge), commanded (asked of the device: the
adapter's reconcile reads door/item sensor/weight; unknown -> failed, no charge, slot flagged for a count)
or sensed (charged now, exactly once through the ledger's idempotency key).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.db import unit_of_work
from vending import dispense
from vending.devices import MachineAdapter, Sensed, safe_call
from vending.dispense import DispenseView
from vending.drivers import DevicePool
from vending.models import Dispense, Machine, Slot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
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
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vending-dispense")
        self._closed = threading.Event()

    def submit(self, dispense_id: int) -> Future[DispenseView]:
        return self._executor.submit(self.run, dispense_id)

    def shutdown(self) -> None:
        self._closed.set()
        self._executor.shutdown(wait=True)

    def _job(self, session: Session, row: Dispense) -> Job:
        machine, slot = session.get(Machine, row.machine_id), session.get(Slot, row.slot_id)
        assert machine is not None and slot is not None
        return Job(
            row.id,
            machine.id,
            machine.kind,
            machine.driver_config,
            slot.device_ref or slot.code,
            row.quantity,
            slot.unit_weight_g,
        )

    def run(self, dispense_id: int) -> DispenseView:
        with unit_of_work(self.session_factory) as session:
            job = self._job(session, dispense.load(session, dispense_id))
        try:
            adapter = self.pool.get(job.machine_id, job.kind, job.config)
        except Exception as exc:  # a driver that cannot be built is an offline device: no charge
            return self._finish(job, Sensed(0, "device_offline", f"driver could not start: {exc}"), commanded=False)
        with self.pool.machine_lock(job.machine_id):
            return self._run_locked(job, adapter)

    def _run_locked(self, job: Job, adapter: MachineAdapter) -> DispenseView:
        baseline_box: dict[str, dict[str, object]] = {}

        def take_baseline() -> Sensed:
            baseline_box["b"] = adapter.baseline(job.ref)
            return Sensed(0)

        before = safe_call(take_baseline)
        if before.fault:
            return self._finish(job, before, commanded=False)
        baseline = baseline_box["b"]
        with unit_of_work(self.session_factory) as session:
            dispense.mark_commanded(session, job.dispense_id, baseline, self.clock.now())
        sensed = safe_call(
            lambda: adapter.execute(job.ref, job.quantity, job.unit_weight, baseline, self._progress(job.dispense_id))
        )
        return self._finish(job, sensed, commanded=True)

    def _progress(self, dispense_id: int):  # type: ignore[no-untyped-def]
        def report(phase: str) -> None:
            try:
                with unit_of_work(self.session_factory) as session:
                    dispense.set_phase(session, dispense_id, phase, self.clock.now())
            except Exception:
                log.exception("could not record phase %s of dispense %s", phase, dispense_id)

        return report

    def _finish(self, job: Job, sensed: Sensed, *, commanded: bool) -> DispenseView:
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            row = dispense.load(session, job.dispense_id)
            if not commanded or (sensed.taken == 0 and sensed.fault):
                return dispense.fail(session, row.id, _reason(sensed), now, flag_slot=True)
            if sensed.taken == 0:
                dispense.record_sensed(session, row.id, 0, sensed.detail, now)
                return dispense.complete(session, row.id, now)
            dispense.record_sensed(session, row.id, sensed.taken, sensed.detail, now)
        with unit_of_work(self.session_factory) as session:  # a crash here is completed by reconcile()
            return dispense.complete(
                session, job.dispense_id, self.clock.now(), flag=_reason(sensed) if sensed.fault else ""
            )

    def reconcile(self) -> list[DispenseView]:
        """At start: settle every dispense a crash left in flight, from the device's state. Never charges twice."""
        with unit_of_work(self.session_factory) as session:
            pending = [(row_id, dispense.load(session, row_id).status) for row_id in dispense.in_flight(session)]
        settled = []
        for row_id, status in pending:
            try:
                settled.append(self._reconcile_one(row_id, status))
            except Exception:
                log.exception("reconciling dispense %s failed; it stays in flight for the next start", row_id)
        return settled

    def _reconcile_one(self, row_id: int, status: str) -> DispenseView:
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            if status == "authorised":
                return dispense.fail(
                    session, row_id, "interrupted before the command was sent; no charge", now, flag_slot=False
                )
            if status == "sensed":
                return dispense.complete(session, row_id, now)
            row = dispense.load(session, row_id)
            job, baseline = self._job(session, row), json.loads(row.baseline or "{}")
        sensed: Sensed | None
        try:
            adapter = self.pool.get(job.machine_id, job.kind, job.config)
            sensed = adapter.reconcile(job.ref, job.quantity, job.unit_weight, baseline)
        except Exception as exc:
            log.warning("device of dispense %s unreadable at restart: %s", row_id, exc)
            sensed = None
        if sensed is None:
            sensed = Sensed(
                0,
                "interrupted",
                "interrupted mid-dispense and the device cannot tell what happened: no charge; count the slot",
            )
        return self._finish(job, sensed, commanded=True)


def _reason(sensed: Sensed) -> str:
    return f"{sensed.fault}: {sensed.detail}" if sensed.detail else sensed.fault
