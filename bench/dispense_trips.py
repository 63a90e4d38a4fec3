"""Benchmark: round trips and statements per dispense on SQLite and PostgreSQL, counted rather than timed.

Runs full dispenses as the kiosk and `vending.runner` run them (the request in its own transaction, commanded,
the Kerong simulator in its own process, settle) on a database built by bench/dispense.py's loader, and counts
per dispense:

- PostgreSQL: round trips (libpq's protocol trace of every pooled connection: each run of client messages
  answered by the server is one round trip, so a pipeline of several statements counts once), statements
  executed, and Parse messages (server-side prepares: zero once psycopg has prepared the hot statements);
- SQLite: statements (sqlite3's trace callback); there is no network, a statement is a call into the library.

Also the calling thread's CPU time per dispense outside the driver. Counts do not depend on the machine's load;
the CPU time does a little (caches), so the load average is printed with it.

    python bench/dispense_trips.py [--database-url postgresql+psycopg://...] [--ledger-rows 100000] [--dispenses 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dispense import (
    BENCH_SLOTS,
    MISSED_OPENING_RETRIES,
    TimedAdapter,
    add_bench_machine,
    build_database,
    clear_jam,
    lockboard_process,
    pct,
)
from sqlalchemy import Engine, event

from core.clock import SystemClock
from core.db import make_engine, make_session_factory
from vending import authorise
from vending.drivers import DevicePool, build
from vending.models import Machine
from vending.rule_cache import CACHE
from vending.runner import DispenseRunner

TARGET_PG_TRIPS = 10.0  # per dispense, mean; main before issue 13's pipelining: 19 (now 7)
# SQLite has no round trips (a statement is a call into the library): a guard against adding statements to the
# dispense, at main's count before this work (22: 3 BEGIN IMMEDIATE, 3 COMMIT, 16 statements). Judged on the
# median dispense: the rule cache reads the item's rules again once its 5 s are up (vending.rule_cache), two more
# statements in about one dispense of 80 here, which the mean shows (22.02) and the guard is not about.
TARGET_SQLITE_STATEMENTS = 22.0


@dataclass
class Counter:
    """Counts what the engine's connections send while `on`; PostgreSQL through libpq's trace file."""

    engine: Engine
    trace_path: Path
    on: bool = False
    statements: int = 0
    traced: list[Any] = field(default_factory=list)

    def install(self) -> None:
        event.listen(self.engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not self.on:
            return
        if self.engine.dialect.name == "sqlite":
            dbapi_connection.set_trace_callback(self._count)
            self.traced.append(dbapi_connection)
        elif all(dbapi_connection is not traced for traced in self.traced):
            from psycopg import pq  # deferred: only PostgreSQL runs import the driver's protocol flags

            fd = os.open(self.trace_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # the connection's FILE* owns it
            dbapi_connection.pgconn.trace(fd)
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            self.traced.append(dbapi_connection)

    def _count(self, _statement: str) -> None:
        self.statements += 1

    def stop(self) -> None:
        self.on = False
        for connection in self.traced:
            if self.engine.dialect.name == "sqlite":
                connection.set_trace_callback(None)
            else:
                connection.pgconn.untrace()


def trace_counts(text: str) -> tuple[int, int, int]:
    """Round trips, statements (Execute or simple Query messages) and Parse messages in a slice of the trace."""
    trips = statements = parses = 0
    last = ""
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        direction, message = parts[0], parts[2]
        if direction == "B" and last == "F":
            trips += 1
        if direction == "F":
            statements += message in ("Execute", "Query")
            parses += message == "Parse"
        last = direction if direction in ("F", "B") else last
    return trips, statements, parses


@contextmanager
def bench_runner(factory: Any, site_id: int, tmp: Path) -> Iterator[tuple[DispenseRunner, TimedAdapter, int]]:
    with lockboard_process(tmp) as sim_url:
        config = {
            "driver": "kerong", "open_window_s": 2, "close_window_s": 2, "poll_interval_s": 0.0002,
            "device": {"port": sim_url, "boards": [{"address": 0, "item_sensors": False}],
                       "slots": {f"L{i:02d}": [0, i] for i in range(BENCH_SLOTS)}},
        }  # fmt: skip
        machine_id, _ = add_bench_machine(factory, site_id, json.dumps(config))
        timed = TimedAdapter(build("locker_bank", config))
        pool = DevicePool()
        pool.put(machine_id, timed)
        runner = DispenseRunner(factory, SystemClock(), pool, max_workers=1)
        try:
            yield runner, timed, machine_id
        finally:
            runner.shutdown()
            pool.close_all()


def one_dispense(factory: Any, runner: DispenseRunner, machine: Machine, workers: int, n: int, label: str) -> int:
    """One dispense; returns how many times it was repeated because a busy machine missed the door opening (the
    repeats' statements are counted too: the figures can only be high, never low)."""
    for attempt in range(MISSED_OPENING_RETRIES + 1):
        view, known = authorise.request_in_own_transaction(
            factory, machine=machine, worker_id=random.Random(n).randrange(workers) + 1,
            slot_code=f"L{n % BENCH_SLOTS:02d}", quantity=1, charge_codes={},
            request_key=f"trips:{label}:{n}:{attempt}", now=SystemClock().now(),
        )  # fmt: skip
        if view.status != "authorised" or known is None:
            raise SystemExit(f"dispense {n} was {view.status}: {view.detail}")
        done = runner.run(view.id, known)
        if done.status == "completed":
            return attempt
        if not done.detail.startswith("door_not_opened"):
            break
        clear_jam(factory, known.slot_id)
    raise SystemExit(f"dispense {n} ended {done.status}: {done.detail}")


def run(args: argparse.Namespace, tmp: Path, url: str, label: str) -> dict[str, float]:
    engine = make_engine(url)
    CACHE.invalidate()
    ids = build_database(engine, args.workers, args.slots, args.ledger_rows, datetime.now(UTC))
    factory = make_session_factory(engine)
    counter = Counter(engine, tmp / f"{label}.trace")
    counter.install()
    trips: list[float] = []
    statements: list[float] = []
    parses = repeated = 0
    cpu: list[float] = []
    with bench_runner(factory, ids["site_id"], tmp) as (runner, timed, machine_id):
        with factory() as s:
            machine = s.get(Machine, machine_id)
            assert machine is not None
            s.expunge(machine)
        for n in range(20):  # warm-up: psycopg prepares a statement on its fifth use on a connection
            one_dispense(factory, runner, machine, args.workers, 1_000_000 + n, label)
        counter.on = True
        for n in range(args.dispenses):
            before_statements, before_cpu = counter.statements, timed.spent_cpu
            started_cpu = time.thread_time()
            again = one_dispense(factory, runner, machine, args.workers, n, label)
            cpu.append((time.thread_time() - started_cpu - (timed.spent_cpu - before_cpu)) * 1000)
            repeated += again
            if not again:  # SQLite counts per dispense: a repeated one's failed attempts are left out
                statements.append(counter.statements - before_statements)
        counter.stop()  # PQuntrace flushes each connection's trace stream: the file is complete after it
    if engine.dialect.name != "sqlite":  # the trace is written when libpq's buffers flush: count the whole run
        total_trips, total_statements, parses = trace_counts(counter.trace_path.read_text())
        trips, statements = [total_trips / args.dispenses], [total_statements / args.dispenses]
    engine.dispose()
    mean = sum(statements) / len(statements)
    median = statistics.median(statements)
    load = os.getloadavg()[0]
    print(f"{label}: {args.dispenses} dispenses, {args.ledger_rows} ledger rows (load average {load:.1f})")
    if repeated:
        print(
            f"  ({repeated} dispenses repeated: a busy machine missed the door opening; left out of SQLite's count, "
            "in PostgreSQL's (counted over the whole run): its figure can only be high)"
        )
    print(f"  statements per dispense          mean {mean:6.2f}   median {median:6.2f}")
    result = {"statements": mean, "median_statements": median, "cpu_p50": pct(cpu, 50)}
    if trips:
        result["trips"] = trips[0]
        print(f"  round trips per dispense         mean {result['trips']:6.2f}")
        print(f"  Parse messages (prepares)        {parses} over {args.dispenses} dispenses")
    print(f"  software CPU per dispense        p50 {pct(cpu, 50):7.3f} ms   p99 {pct(cpu, 99):7.3f} ms")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to count on too (emptied first)")
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=2_000)
    parser.add_argument("--ledger-rows", type=int, default=100_000)
    parser.add_argument("--dispenses", type=int, default=100)
    parser.add_argument("--keep-trace", default="", help="a folder to keep PostgreSQL's protocol trace in")
    args = parser.parse_args(argv)
    figures, met = [], True
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep_trace:
            tmp = args.keep_trace
        sqlite = run(args, Path(tmp), f"sqlite:///{Path(tmp) / 'trips.db'}", "sqlite")
        ok = sqlite["median_statements"] <= TARGET_SQLITE_STATEMENTS
        met &= ok
        figures.append(
            f"sqlite_statements_per_dispense={sqlite['median_statements']:.2f} (<={TARGET_SQLITE_STATEMENTS:g}) "
            f"{'met' if ok else 'missed'}"
        )
        if args.database_url:
            (Path(tmp) / "postgresql.trace").unlink(missing_ok=True)
            pg = run(args, Path(tmp), args.database_url, "postgresql")
            ok = pg["trips"] <= TARGET_PG_TRIPS
            met &= ok
            figures.append(
                f"postgresql_round_trips_per_dispense={pg['trips']:.2f} (<={TARGET_PG_TRIPS:g}) "
                f"{'met' if ok else 'missed'}"
            )
    print("targets: " + "; ".join(figures))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
