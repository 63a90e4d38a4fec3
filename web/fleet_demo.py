"""`vendtrack demo --fleet`: a central server and two edges on one machine, each edge with a simulated coil machine
and simulated workers taking items, so a person can watch the fleet page, cut an edge off and see it catch up.

The central server runs `vendtrack serve` (VENDTRACK_FLEET_CENTRAL=1) on SQLite in `instance/fleet-demo/`
(set VENDTRACK_FLEET_DEMO_DATABASE_URL to use PostgreSQL); each edge is enrolled with `vendtrack edge enrol`
and runs `vendtrack edge demo-machine` (its web UI, its workers, a coil-machine simulator, a shift).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from core.clock import SystemClock
from core.db import make_engine, make_session_factory, unit_of_work
from core.fleet_central import create_edge
from core.fleet_feed import capture_changes
from core.models import Item, Site
from core.runtime import AppServices
from core.users import create_user
from firmware_bridge.sim.coil import CoilMachineSim
from vending import authorise, restock
from vending.ledger import on_hand
from vending.models import Machine, Rule, Slot, Worker
from vending.runtime import runtime
from web.demo_logins import DEMO_LOGINS
from web.workers import WorkerSet, dispatcher_workers, domain_workers, storage_workers

VENDTRACK = str(Path(sys.executable).parent / "vendtrack")
EDGES = (("plant1-crib", "PLANT1", "COIL-P1"), ("plant2-crib", "PLANT2", "COIL-P2"))
SLOTS = (("11", "VND-EARPLUG"), ("12", "VND-GLOVE-9"), ("13", "VND-TAPE"))


def _seed_central(url: str) -> None:
    from migrations import upgrade  # deferred: alembic (heavy, ~0.2 s), only to migrate

    upgrade(url)
    factory = make_session_factory(make_engine(url))
    capture_changes(factory)
    with unit_of_work(factory) as s:
        for username, password, roles in DEMO_LOGINS:
            create_user(s, username, password, roles, actor="demo")
        sites = {code: Site(code=code, name=f"Plant {code[-1]}") for _name, code, _m in EDGES}
        s.add_all(sites.values())
        for sku, name, cost in (
            ("VND-EARPLUG", "Ear plugs (pair)", "0.35"),
            ("VND-GLOVE-9", "Cut-resistant gloves size 9", "6.40"),
            ("VND-TAPE", "Insulation tape", "1.10"),
        ):
            s.add(Item(sku=sku, name=name, category="ppe", unit_cost=Decimal(cost)))
        s.flush()
        items = {i.sku: i.id for i in s.scalars(select(Item))}
        s.add_all(Worker(worker_code=f"W{n:03d}", name=f"Demo worker {n}") for n in range(1, 11))
        for _name, site, machine_code in EDGES:
            machine = Machine(
                code=machine_code, name=f"Coil machine {site}", site_id=sites[site].id, kind="coil_machine"
            )
            s.add(machine)
            s.flush()
            for slot, sku in SLOTS:
                s.add(
                    Slot(
                        machine_id=machine.id,
                        code=slot,
                        item_id=items[sku],
                        device_ref=slot,
                        capacity=500,
                        min_level=20,
                        max_level=500,
                        state="ok",
                        state_reason="",
                    )
                )
        s.add(Rule(name="Gloves per shift", quantity=2, window="shift", item_id=items["VND-GLOVE-9"], active=True))


def _wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise click.ClickException(f"{url} did not start: see the logs in the fleet-demo folder")


def run_fleet_demo(instance: Path, host: str, port: int) -> None:
    folder = instance / "fleet-demo"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    central_db = os.environ.get("VENDTRACK_FLEET_DEMO_DATABASE_URL") or f"sqlite:///{folder / 'central.db'}"
    _seed_central(central_db)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VENDTRACK_")} | {"VENDTRACK_LOG_LEVEL": "WARNING"}
    central_env = base | {
        "VENDTRACK_DATABASE_URL": central_db,
        "VENDTRACK_FLEET_CENTRAL": "1",
        "VENDTRACK_INSTANCE_PATH": str(folder / "central"),
        "VENDTRACK_FLEET_SILENT_SECONDS": "30",
    }
    children: list[subprocess.Popen[bytes]] = []
    logs = []

    def spawn(args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        handle = (folder / log).open("wb")
        logs.append(handle)
        child = subprocess.Popen([VENDTRACK, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)
        children.append(child)
        return child

    def terminated(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)  # stopping the demo stops its processes too
    try:
        central_url = f"http://{host}:{port}"
        spawn(["serve", "--host", host, "--port", str(port)], central_env, "central.log")
        _wait_up(central_url)
        factory = make_session_factory(make_engine(central_db))
        for n, (name, site, machine) in enumerate(EDGES, start=1):
            with unit_of_work(factory) as s:
                _edge, code = create_edge(s, name, site, machine, "demo", SystemClock().now())
            env = base | {
                "VENDTRACK_DATABASE_URL": f"sqlite:///{folder / name}.db",
                "VENDTRACK_INSTANCE_PATH": str(folder / name),
                "VENDTRACK_FLEET_POLL_SECONDS": "5",
            }
            subprocess.run([VENDTRACK, "db", "upgrade"], env=env, check=True, capture_output=True)
            subprocess.run([VENDTRACK, "edge", "enrol", central_url, code], env=env, check=True, capture_output=True)
            spawn(["edge", "demo-machine", "--host", host, "--port", str(port + n)], env, f"{name}.log")
            _wait_up(f"http://{host}:{port + n}")
        click.echo(f"central server: {central_url}/admin/fleet (login admin / keys-to-the-plant)")
        for n, (name, site, machine) in enumerate(EDGES, start=1):
            click.echo(f"edge {name} (site {site}, machine {machine}): http://{host}:{port + n}/ (same logins)")
        click.echo(
            "simulated workers take an item at each edge every few seconds; stop an edge's process or edit a "
            f"worker centrally and watch the fleet page. Logs and databases: {folder}. Ctrl+C stops all."
        )
        while all(child.poll() is None for child in children):
            time.sleep(1)
        click.echo("a fleet process ended: see its log in " + str(folder))
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for handle in logs:
            handle.close()


def _wire_simulators(services: AppServices) -> Any:
    with unit_of_work(services.session_factory) as s:
        machines = {
            m.code: [int(c) for c in s.scalars(select(Slot.code).where(Slot.machine_id == m.id))]
            for m in s.scalars(select(Machine))
        }
    sims = {}
    for code, selections in machines.items():
        sim = sims[code] = CoilMachineSim(selections, model_wire_time=False, poll_interval=0.05, vend_time=0.8).start()
        with unit_of_work(services.session_factory) as s:
            machine = s.scalar(select(Machine).where(Machine.code == code))
            assert machine is not None
            machine.driver_config = json.dumps({"driver": "coil", "device": {"port": sim.url, "vend_timeout_s": 10}})
    return sims


def _fill(services: AppServices) -> None:
    now = SystemClock().now()
    with unit_of_work(services.session_factory) as s:
        for machine_id, slot_id, code, capacity in s.execute(
            select(Slot.machine_id, Slot.id, Slot.code, Slot.capacity)
        ):
            missing = capacity - on_hand(s, slot_id)
            if missing > 0:
                restock.record_fill(
                    s, machine_id, code, missing, key=f"demo-fill:{uuid.uuid4().hex}", now=now, actor="demo"
                )


def _shift(services: AppServices, stop: threading.Event, every: float) -> None:
    rng = random.Random()
    while not stop.wait(every):
        try:
            with services.session_factory() as s:
                machine = rng.choice(list(s.scalars(select(Machine))))
                slot = rng.choice(list(s.scalars(select(Slot.code).where(Slot.machine_id == machine.id))))
                workers = list(s.scalars(select(Worker.id).where(Worker.active.is_(True))))
                s.expunge(machine)
            if not workers:
                continue
            view, known = authorise.request_in_own_transaction(
                services.session_factory,
                machine=machine,
                worker_id=rng.choice(workers),
                slot_code=slot,
                quantity=1,
                charge_codes={},
                request_key=f"demo-shift:{uuid.uuid4().hex}",
                now=SystemClock().now(),
            )
            if view.status == "authorised":
                runtime(services).runner.run(view.id, known)
        except Exception as exc:  # the shift goes on
            click.echo(f"demo shift: {type(exc).__name__}: {exc}", err=True)


def run_edge_demo(app: Any, host: str, port: int, every: float) -> None:
    """One edge of the fleet demo: simulators wired (the driver configuration is the edge's), slots filled, local
    logins, the web UI and workers, and a shift taking an item every `every` seconds."""
    from waitress import create_server  # deferred: waitress, only when the edge demo serves

    services: AppServices = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as s:
        for username, password, roles in DEMO_LOGINS:
            create_user(s, username, password, roles, actor="demo")
    sims = _wire_simulators(services)
    _fill(services)
    workers = WorkerSet(
        storage_workers(services) + dispatcher_workers(services) + domain_workers(app, services), services
    )
    workers.start()
    stop = threading.Event()
    threading.Thread(target=_shift, args=(services, stop, every), daemon=True, name="demo-shift").start()
    server = create_server(app, host=host, port=port, threads=4)
    try:
        server.run()
    finally:
        stop.set()
        workers.stop()
        for sim in sims.values():
            sim.stop()
