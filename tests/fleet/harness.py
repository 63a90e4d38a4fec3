"""A real fleet on one machine for the tests and the bench: a central `vendtrack serve` on PostgreSQL and edges on
SQLite, each a process of its own, every edge behind a proxy that can cut its network.

Configuration is seeded centrally through a session with change capture (as the admin pages would), edges are
created with `vendtrack fleet add-edge` and enrolled with `vendtrack edge enrol`, then run as
`tests.fleet.edge_process` (its own simulated coil machine) and driven line by line.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory, unit_of_work
from core.fleet_feed import capture_changes
from core.models import Item, Site
from tests.fleet.proxy import DroppingProxy
from vending.models import Machine, Rule, Slot, Worker
from web import fleet_plugin

del fleet_plugin  # imported for the owned tables it registers (change capture)

VENDTRACK = str(Path(sys.executable).parent / "vendtrack")
ROOT = Path(__file__).resolve().parents[2]
EDGES = {"edge-a": ("PA", "VM-A"), "edge-b": ("PB", "VM-B")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], deadline_s: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + deadline_s
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([VENDTRACK, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    if done.returncode != 0:
        raise AssertionError(f"vendtrack {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done.stdout


class EdgeProcess:
    def __init__(self, env: dict[str, str], machine: str, log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fleet.edge_process", machine],
            env=env,
            cwd=ROOT,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.lines.get(timeout=120)
        if line.strip() != "ready":
            raise AssertionError(f"edge process did not start: {line!r} (see {log})")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def ask(self, command: str, timeout: float = 300) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.lines.get(timeout=timeout) or "{}")
        if "error" in answer:
            raise AssertionError(f"edge answered {command!r} with {answer['error']}")
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.log.close()


def seed_central(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sites = {code: Site(code=code, name=f"Plant {code}") for code in ("PA", "PB")}
        s.add_all(
            [
                *sites.values(),
                Item(sku="GLV", name="Gloves", category="ppe", unit_cost=Decimal("6.40")),
                Item(sku="EAR", name="Ear plugs", category="ppe", unit_cost=Decimal("0.35")),
            ]
        )
        s.flush()
        s.add_all(Worker(worker_code=f"W{n}", name=f"Worker {n}", site_id=None) for n in range(1, 5))
        items = {i.sku: i.id for i in s.scalars(select(Item))}
        for edge, (site, machine_code) in EDGES.items():
            machine = Machine(code=machine_code, name=edge, site_id=sites[site].id, kind="coil_machine")
            s.add(machine)
            s.flush()
            for slot, sku in (("11", "GLV"), ("12", "EAR")):
                s.add(
                    Slot(
                        machine_id=machine.id,
                        code=slot,
                        item_id=items[sku],
                        device_ref=slot,
                        capacity=5000,
                        min_level=1,
                        max_level=5000,
                        state="ok",
                        state_reason="",
                    )
                )
        s.add(Rule(name="Gloves per day", quantity=4, window="day", item_id=items["GLV"], active=True))
        s.add(Rule(name="Ear plugs per day", quantity=1000, window="day", item_id=items["EAR"], active=True))


class FleetRig:
    """Central + edges; `close()` stops every process it started and drops the central database."""

    def __init__(self, tmp: Path, pg_url: str, poll_seconds: float = 0.5) -> None:
        self.tmp = tmp
        admin = make_url(pg_url).set(database="postgres")
        self.db_name = f"fleet_{secrets.token_hex(4)}"
        self.admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with self.admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        self.central_url = make_url(pg_url).set(database=self.db_name).render_as_string(hide_password=False)
        base = {k: v for k, v in os.environ.items() if not k.startswith("VENDTRACK_")}
        self.central_env = base | {
            "VENDTRACK_DATABASE_URL": self.central_url,
            "VENDTRACK_FLEET_CENTRAL": "1",
            "VENDTRACK_INSTANCE_PATH": str(tmp / "central"),
            "VENDTRACK_OUTBOX_POLL_SECONDS": "0.1",
            "VENDTRACK_LOG_LEVEL": "WARNING",
        }
        self.edge_env: dict[str, dict[str, str]] = {}
        self.edges: dict[str, EdgeProcess] = {}
        self.proxies: dict[str, DroppingProxy] = {}
        self.central: subprocess.Popen[str] | None = None
        cli(self.central_env, "db", "upgrade")
        self.engine = make_engine(self.central_url)
        self.factory = make_session_factory(self.engine)
        capture_changes(self.factory)
        seed_central(self.factory)
        self.port = free_port()
        self.central_log = (tmp / "central.log").open("w")
        self.central = subprocess.Popen(
            [VENDTRACK, "serve", "--port", str(self.port), "--threads", "8"],
            env=self.central_env,
            cwd=ROOT,
            stdout=self.central_log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._central_up, 120, "the central server to answer /healthz")
        for name, (site, machine) in EDGES.items():
            self._add_edge(name, site, machine, poll_seconds)

    def _central_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _add_edge(self, name: str, site: str, machine: str, poll_seconds: float) -> None:
        code = cli(self.central_env, "fleet", "add-edge", name, "--site", site, "--machines", machine).strip()
        proxy = self.proxies[name] = DroppingProxy(self.port).start()
        env = {k: v for k, v in self.central_env.items() if not k.startswith("VENDTRACK_")}
        env |= {
            "VENDTRACK_DATABASE_URL": f"sqlite:///{self.tmp / name}.db",
            "VENDTRACK_INSTANCE_PATH": str(self.tmp / name),
            "VENDTRACK_FLEET_POLL_SECONDS": str(poll_seconds),
            "VENDTRACK_OUTBOX_BACKOFF_SECONDS": "0.2",
            "VENDTRACK_OUTBOX_POLL_SECONDS": "0.1",
            "VENDTRACK_LOG_LEVEL": "WARNING",
        }
        self.edge_env[name] = env
        cli(env, "db", "upgrade")
        cli(env, "edge", "enrol", proxy.url, code)
        self.edges[name] = EdgeProcess(env, machine, self.tmp / f"{name}.log")

    def central_scalar(self, statement: Any) -> Any:
        with self.factory() as s:
            return s.scalar(statement)

    def central_rows(self, statement: Any) -> list[Any]:
        with self.factory() as s:
            return list(s.execute(statement).all())

    def close(self) -> None:
        for edge in self.edges.values():
            edge.stop()
        for proxy in self.proxies.values():
            proxy.close()
        if self.central is not None:
            self.central.terminate()
            try:
                self.central.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.central.kill()
        self.central_log.close()
        self.engine.dispose()
        with self.admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin_engine.dispose()
