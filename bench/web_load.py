"""Benchmark: the web tier under `vendtrack serve`: hot endpoints against a bare one, process scaling, idle streams.

Starts `vendtrack serve` on a fresh database (a new SQLite file, or with --database-url postgresql+psycopg://...
a new database created on that server and dropped afterwards), seeds a kiosk, a floor of tagged assets and 40
purchase orders, then drives each endpoint with wrk (a compiled load generator, so the client does not take the
server's CPU in Python) at 16 concurrent connections:

  bare        GET /livez (a constant through the whole app stack, no database)
  kiosk       GET /api/v1/vending/kiosk/L1/state (DEVICE token)
  gateway     POST /api/v1/gateways/gw-a/adverts (20 adverts, GATEWAY token)
  assets      GET /api/v1/assets?limit=50 (READ token)
  po_list     GET /api/v1/procurement/purchase-orders?status= (ERP token)

Each endpoint is measured on servers at rest: before its run the bench waits until the serving processes use
under a tenth of a core (the gateway's load leaves adverts for the workers' engine to ingest; that is the
ingest's cost, measured by bench/ingest.py, not the next endpoint's), and says how long it waited.

Targets: each product endpoint >= 0.5x the bare endpoint's requests/s with p99 <= 100 ms (two web processes, the
default on two cores); /livez with two processes >= 1.6x one process; 500 idle kiosk event streams held for
60 s cost <= 10% of one core (CPU time of every serving process, from /proc). wrk: `apt-get install -y wrk`.

One and two processes are both up during the comparison and take turns (`--rounds`, best run of each), so the
machine's other load meets both alike. wrk runs one thread; each figure prints the serving processes' CPU per
request and wrk's own CPU share, so a reader sees whether the load generator took the server's CPU.

    python bench/web_load.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                             [--seconds 10] [--idle 500] [--idle-seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.clock import ManualClock, SystemClock
from core.db import make_engine, make_session_factory, unit_of_work
from core.roles import TokenScope
from core.users import create_token
from migrations import upgrade
from procurement import orders, workflow
from procurement.suppliers import supplier_by_code
from tests.procurement.conftest import seed_world as seed_procurement
from tests.tracking.conftest import advert_hex, seed_floor
from tests.vending.conftest import seed_world as seed_vending
from tests.web.served import children, free_port
from tracking.models import Asset
from vending import pairing

CONNECTIONS = 16
WRK_INSTALL = "wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`"


@dataclass(frozen=True, slots=True)
class Load:
    name: str
    rps: float
    p99_ms: float
    errors: int
    server_cpu_ms: float = 0.0  # CPU time of every serving process per request (from /proc)
    wrk_cpu_pct: float = 0.0  # the load generator's CPU, % of one core over the run


def fresh_database(url: str | None, folder: Path) -> tuple[str, str | None]:
    """(url of a new empty database, the name to drop afterwards or None for SQLite)."""
    if url is None or url.startswith("sqlite"):
        return f"sqlite:///{folder / 'web_load.db'}", None
    name = f"vt_web_load_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def drop_database(url: str, name: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str) -> dict[str, str]:
    """The bench's world; returns the bearer tokens by use."""
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    world = seed_vending(factory)
    proc = seed_procurement(factory, ManualClock(SystemClock().now()))
    tokens: dict[str, str] = {}
    with unit_of_work(factory) as s:
        tokens["kiosk"] = pairing.pair(s, world.machine_id, "bench", "user:bench", SystemClock()).token
        floor = seed_floor(s)
        for n in range(200):
            s.add(Asset(asset_tag=f"B-{n}", name=f"Bed {n}", asset_type="bed", home_zone_id=floor.zone_ids["A"]))
        for scope in ("gateway", "read", "erp"):
            tokens[scope], _ = create_token(s, f"bench-{scope}", [TokenScope(scope)])
        for n in range(40):
            po = orders.new_po(s, supplier_by_code(s, "ACME"), proc.site_id, "user:bench", proc.clock)
            for k, sku in enumerate(("GLOVE", "WIPE", "DRILL")):
                orders.add_line(s, po, sku, 6 * (k + 1), Decimal("2.50"), "user:bench", proc.clock)
            if n % 2:
                workflow.submit(s, po.po_number, "user:bench", proc.clock)
    engine.dispose()
    return tokens


class Server:
    """`vendtrack serve` with `processes` web processes, started and stopped by the bench."""

    def __init__(self, url: str, instance: Path, processes: int, threads: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "VENDTRACK_DATABASE_URL": url, "VENDTRACK_INSTANCE_PATH": str(instance),
               "VENDTRACK_LOG_LEVEL": "WARNING"}  # fmt: skip
        command = [sys.executable, "-m", "web", "serve", "--port", str(self.port), "--processes", str(processes),
                   "--threads", str(threads)]  # fmt: skip
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/livez", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("vendtrack serve did not answer /livez within 90 s")

    def cpu_s(self) -> float:
        """CPU seconds used so far by every process under the supervisor (web processes, workers)."""
        ticks, todo, seen = 0, [self.proc.pid], set()
        while todo:
            pid = todo.pop()
            seen.add(pid)
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except OSError:
                continue
            todo += [c for c in children(pid) if c not in seen]
        return ticks / os.sysconf("SC_CLK_TCK")

    def settle(self, deadline_s: float = 180.0) -> float:
        """Wait until the serving processes use under a tenth of a core (what the last load queued for the workers,
        such as the gateway's adverts, is done), so each endpoint is measured on a server at rest; returns the
        seconds waited (the deadline passed, it measures anyway and the figure shows the disturbance)."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            before = self.cpu_s()
            time.sleep(0.5)
            if self.cpu_s() - before < 0.05:
                break
        return time.monotonic() - started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(name: str, url: str, seconds: int, token: str = "", body: str = "", cookie: str = "",
        server: Server | None = None) -> Load:  # fmt: skip
    script = ""
    if token:
        script += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    if cookie:
        script += f'wrk.headers["Cookie"] = {json.dumps(cookie)}\n'
    if body:
        script += 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        script += f"wrk.body = {json.dumps(body)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    # one wrk thread: it drives 16 connections at tens of thousands of requests/s, and a second would only take
    # CPU from the server on a 2-core machine (its share is printed with each figure)
    command = ["wrk", "-t", "1", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency", "-s", lua.name, url]
    if server is not None:
        waited = server.settle()
        if waited >= 1.0:
            print(f"  ({name}: waited {waited:.1f} s for the servers to come to rest after the previous load)")
    cpu_before, clock_before = (server.cpu_s() if server else 0.0), os.times()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after, clock_after = (server.cpu_s() if server else 0.0), os.times()
    os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99, out
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    wrk_cpu = (clock_after.children_user + clock_after.children_system
               - clock_before.children_user - clock_before.children_system)  # fmt: skip
    server_ms = (cpu_after - cpu_before) / done * 1000 if done and server else 0.0
    return Load(name, rps, p99_ms, errors, server_ms, wrk_cpu / (clock_after.elapsed - clock_before.elapsed) * 100)


async def _hold_streams(host: str, port: int, path: str, token: str, count: int, seconds: float,
                        measure: Server) -> tuple[int, float]:  # fmt: skip
    """Open `count` event streams, wait until each has its headers, then measure the servers' CPU for `seconds`;
    returns (streams still open at the end, CPU seconds used meanwhile)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )

    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            return (reader, writer) if b" 200 " in head.split(b"\r\n", 1)[0] else None
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return None

    opened = [s for s in await asyncio.gather(*(one() for _ in range(count))) if s is not None]
    drains = [asyncio.create_task(_drain(r)) for r, _ in opened]
    await asyncio.sleep(2)  # the last opens settle
    before = measure.cpu_s()
    await asyncio.sleep(seconds)
    used = measure.cpu_s() - before
    alive = sum(1 for task in drains if not task.done())
    for task in drains:
        task.cancel()
    for _, writer in opened:
        writer.close()
    return alive, used


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(4096):
        pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a fresh database is made on it)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per endpoint")
    parser.add_argument("--idle", type=int, default=500, help="idle kiosk event streams to hold")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of one vs two processes")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="vt-web-load-"))
    url, dropped = fresh_database(args.database_url, folder)
    try:
        return run(url, folder, args)
    finally:
        if dropped is not None:
            drop_database(args.database_url, dropped)
        shutil.rmtree(folder, ignore_errors=True)


def scaling_rounds(one: Server, two: Server, seconds: int, rounds: int) -> tuple[Load, Load]:
    """/livez on one and on two web processes, alternating `rounds` times; the best run of each.

    Both servers are up for the whole comparison and take turns, so a change in the machine's other load
    meets both alike (run one after the other, a busy minute during either decided the ratio)."""
    best: dict[int, Load] = {}
    for round_ in range(rounds):
        for processes, server in ((1, one), (2, two)):
            load = wrk(f"bare_{processes}proc" if processes == 1 else "bare", server.base + "/livez", seconds,
                       server=server)  # fmt: skip
            print(
                f"  round {round_ + 1}: {processes} process(es) {load.rps:8.1f} req/s, "
                f"server {load.server_cpu_ms:.2f} CPU ms/request, load average {os.getloadavg()[0]:.2f}"
            )
            if processes not in best or load.rps > best[processes].rps:
                best[processes] = load
    return best[1], best[2]


def signed_in_kiosk(base: str, token: str) -> str:
    """The session cookie of worker W1 badged in at L1: the kiosk's status endpoint answers a signed-in screen."""
    request = urllib.request.Request(
        base + "/api/v1/vending/kiosk/L1/badge", data=json.dumps({"badge": "04A21B1C"}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
    if not cookies:
        raise SystemExit("the kiosk sign-in set no session cookie: the kiosk figures would measure a refusal")
    return "; ".join(cookies)


def run(url: str, folder: Path, args: argparse.Namespace) -> int:
    tokens = seed(url)
    print(f"database: {make_url(url).get_backend_name()}, {os.cpu_count()} cores, {CONNECTIONS} connections, "
          f"{args.seconds} s per endpoint, load average {os.getloadavg()[0]:.2f} (the machine may be shared: "
          "figures vary with its load)")  # fmt: skip
    threads = max(64, args.idle // 2 + 64)  # each idle stream holds a thread; the kernel spreads them unevenly
    one = Server(url, folder / "one", 1, threads)
    try:
        two = Server(url, folder / "two", 2, threads)
    except BaseException:
        one.stop()
        raise
    try:
        bare_one, bare_two = scaling_rounds(one, two, args.seconds, args.rounds)
        one.stop()
        adverts = {"adverts": [{"address": f"AA:00:00:00:00:{n:02X}", "rssi": -60 - n, "data": advert_hex(n % 3 + 1)}
                               for n in range(20)]}  # fmt: skip
        loads = [
            bare_two,
            wrk("kiosk", two.base + "/api/v1/vending/kiosk/L1/state", args.seconds, tokens["kiosk"],
                cookie=signed_in_kiosk(two.base, tokens["kiosk"]), server=two),
            wrk("gateway", two.base + "/api/v1/gateways/gw-a/adverts", args.seconds, tokens["gateway"],
                json.dumps(adverts), server=two),
            wrk("assets", two.base + "/api/v1/assets?limit=50", args.seconds, tokens["read"], server=two),
            wrk("po_list", two.base + "/api/v1/procurement/purchase-orders?status=", args.seconds, tokens["erp"],
                server=two),
        ]  # fmt: skip
        for load in [bare_one, *loads]:
            print(f"{load.name:11s} {load.rps:9.1f} req/s  p99 {load.p99_ms:7.1f} ms  errors {load.errors}  "
                  f"server {load.server_cpu_ms:5.2f} CPU ms/req  wrk {load.wrk_cpu_pct:4.1f} % of a core")  # fmt: skip
        alive, cpu = asyncio.run(
            _hold_streams(
                "127.0.0.1",
                two.port,
                "/api/v1/vending/kiosk/L1/events",
                tokens["kiosk"],
                args.idle,
                args.idle_seconds,
                two,
            )
        )
    finally:
        one.stop()
        two.stop()
    share = cpu / args.idle_seconds
    print(f"idle streams: {alive} of {args.idle} open after {args.idle_seconds:g} s, "
          f"{cpu:.2f} CPU s = {share * 100:.1f} % of one core")  # fmt: skip
    bare = loads[0]
    checks: list[tuple[str, str, str, bool]] = []
    for load in loads[1:]:
        ratio = load.rps / bare.rps if bare.rps else 0.0
        checks.append((f"{load.name}_vs_bare", f"{ratio:.2f}", ">=0.5", ratio >= 0.5 and load.errors == 0))
        checks.append((f"{load.name}_p99_ms", f"{load.p99_ms:.1f}", "<=100", load.p99_ms <= 100))
    scaling = bare.rps / bare_one.rps if bare_one.rps else 0.0
    checks.append(("two_vs_one_process", f"{scaling:.2f}", ">=1.6", scaling >= 1.6))
    checks.append(("idle_streams_open", str(alive), f">={args.idle}", alive >= args.idle))
    checks.append(("idle_cpu_pct_of_core", f"{share * 100:.1f}", "<=10", share <= 0.10))
    print("targets: " + "; ".join(f"{n}={v} ({t}) {'met' if ok else 'missed'}" for n, v, t, ok in checks))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
