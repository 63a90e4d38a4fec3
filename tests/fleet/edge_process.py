"""One edge as a process of its own for the fleet tests: its app, workers, a simulated coil machine, and a console.

Run `python -m tests.fleet.edge_process MACHINE` with VENDTRACK_DATABASE_URL / VENDTRACK_INSTANCE_PATH of an
enrolled edge. It wires its machine to a coil-machine simulator (the driver configuration is the edge's own),
starts the outbox dispatcher (forwarding to the central server) and the fleet link, prints `ready`, then
answers one JSON line per command read on stdin:
  restock N            fill every slot of the machine with N more items
  dispense N W1,W2 [S] N dispenses of 1 item, workers and slots (or slot S) in turn, through the real runner
  state                what the edge holds: version, sync state, backlog, workers, rules, stock, ledger
  quit
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from sqlalchemy import func, select

from core.clock import SystemClock
from core.db import unit_of_work
from core.events import ItemDispensed
from core.fleet_feed import get_state
from core.models import Item
from core.outbox import OutboxEvent
from firmware_bridge.sim.coil import CoilMachineSim
from vending import authorise, restock
from vending.models import LedgerEntry, Machine, RemoteUsage, Rule, Slot, SlotStock, Worker
from vending.runtime import runtime
from web.app import create_app
from web.fleet_report import edge_report
from web.workers import WorkerSet, dispatcher_workers, domain_workers


def _wire(services: Any, code: str) -> CoilMachineSim:
    with unit_of_work(services.session_factory) as session:
        slots = [int(s) for s in session.scalars(select(Slot.code).join(Machine).where(Machine.code == code))]
    sim = CoilMachineSim(slots, model_wire_time=False, poll_interval=0.005, vend_time=0.0, start_delay=0.0).start()
    with unit_of_work(services.session_factory) as session:
        machine = session.scalar(select(Machine).where(Machine.code == code))
        assert machine is not None
        machine.driver_config = json.dumps({"driver": "coil", "device": {"port": sim.url, "vend_timeout_s": 10}})
    return sim


def _restock(services: Any, code: str, added: int) -> dict[str, Any]:
    now = SystemClock().now()
    with unit_of_work(services.session_factory) as session:
        machine = session.scalar(select(Machine).where(Machine.code == code))
        assert machine is not None
        for slot in session.scalars(select(Slot.code).where(Slot.machine_id == machine.id)).all():
            restock.record_fill(session, machine.id, slot, added, key=f"fill:{uuid.uuid4().hex}", now=now, actor="test")
    return {"restocked": added}


def _dispense(services: Any, code: str, count: int, workers: list[str], slot: str = "") -> dict[str, Any]:
    factory = services.session_factory
    with factory() as session:
        machine = session.scalar(select(Machine).where(Machine.code == code))
        assert machine is not None
        session.expunge(machine)
        slots = [slot] if slot else list(session.scalars(select(Slot.code).where(Slot.machine_id == machine.id)))
        ids = {w.worker_code: w.id for w in session.scalars(select(Worker).where(Worker.worker_code.in_(workers)))}
    completed, refused = 0, []
    for n in range(count):
        worker = workers[n % len(workers)]
        view, known = authorise.request_in_own_transaction(
            factory,
            machine=machine,
            worker_id=ids[worker],
            slot_code=slots[n % len(slots)],
            quantity=1,
            charge_codes={},
            request_key=f"fleet-test:{uuid.uuid4().hex}",
            now=SystemClock().now(),
        )
        if view.status != "authorised":
            refused.append(f"{worker}: {view.detail}")
            continue
        done = runtime(services).runner.run(view.id, known)
        if done.status == "completed":
            completed += 1
        else:
            refused.append(f"{worker}: {done.status} {done.detail}")
    return {"completed": completed, "refused": refused}


def _state(services: Any, code: str) -> dict[str, Any]:
    with unit_of_work(services.session_factory) as session:
        report = edge_report(session, services)
        stock = session.execute(
            select(Item.sku, func.sum(SlotStock.on_hand))
            .select_from(SlotStock)
            .join(Slot, Slot.id == SlotStock.slot_id)
            .join(Item, Item.id == Slot.item_id)
            .group_by(Item.sku)
        )
        issued = session.execute(
            select(Item.sku, func.sum(LedgerEntry.quantity))
            .join(Item, Item.id == LedgerEntry.item_id)
            .where(LedgerEntry.kind == "issue")
            .group_by(Item.sku)
        )
        keys = session.scalars(select(OutboxEvent.event_key).where(OutboxEvent.event_type == ItemDispensed.event_type))
        return {
            "version": int(get_state(session, "version", "0") or 0),
            "stopped": get_state(session, "stopped"),
            "backlog": report["backlog"],
            "workers": {w.worker_code: w.active for w in session.scalars(select(Worker))},
            "rules": {r.name: r.quantity for r in session.scalars(select(Rule))},
            "stock": {sku: int(n) for sku, n in stock},
            "issued": {sku: -int(n) for sku, n in issued},
            "dispensed_events": sorted(keys),
            "remote_usage": {
                w: int(n)
                for w, n in session.execute(
                    select(Worker.worker_code, func.sum(RemoteUsage.quantity))
                    .join(Worker, Worker.id == RemoteUsage.worker_id)
                    .group_by(Worker.worker_code)
                )
            },
        }


def main() -> None:
    code = sys.argv[1]
    app = create_app()
    services = app.extensions["vendtrack"]
    sim = _wire(services, code)
    workers = WorkerSet(dispatcher_workers(services) + domain_workers(app, services), services)
    workers.start()
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            try:
                if words[0] == "restock":
                    answer = _restock(services, code, int(words[1]))
                elif words[0] == "dispense":
                    answer = _dispense(services, code, int(words[1]), words[2].split(","), *words[3:4])
                else:
                    answer = _state(services, code)
            except Exception as exc:  # the test reads the error instead of a hung pipe
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)
    finally:
        workers.stop()
        sim.stop()


if __name__ == "__main__":
    main()
