"""Benchmark: a fleet's partition and recovery, measured on real processes (tests/fleet/scenario.py).

Central `vendtrack serve` on PostgreSQL, two edges on SQLite, each a process with its own simulated coil
machine behind a proxy that drops connections. Measures how long a central configuration change takes to
reach both edges (target <= 60 s: a worker deactivated centrally is refused everywhere within a minute),
then cuts both edges off while they dispense, heals the network and measures the events sent and received,
duplicates (target 0), lost (target 0), and the time until every event is at the central server and both
backlogs are empty (target <= 60 s with the edges' 0.2 s outbox backoff).

    VENDTRACK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        python bench/fleet_partition.py [--per-edge 200] [--poll 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fleet import scenario
from tests.fleet.harness import FleetRig


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-edge", type=int, default=200, help="dispenses per edge during the cut")
    parser.add_argument("--poll", type=float, default=10.0, help="VENDTRACK_FLEET_POLL_SECONDS of the edges")
    args = parser.parse_args(argv)
    url = os.environ.get("VENDTRACK_TEST_DATABASE_URL", "")
    if not url:
        print("set VENDTRACK_TEST_DATABASE_URL to a PostgreSQL URL (the central server's database server)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        rig = FleetRig(Path(tmp), url, poll_seconds=args.poll)
        try:
            figures, problems, why = scenario.run(rig, per_edge=args.per_edge)
        finally:
            rig.close()
    result = scenario.describe(figures)
    print(json.dumps(result, indent=2))
    print(f"edges polled every {args.poll} s; {args.per_edge} dispenses per edge during the cut (+3 gloves each)")
    print(f"books: {problems or 'central ledger and stock agree with both edges'}")
    print(f"revoked edge says: {why}")
    for note in figures.notes:
        print(note)
    checks = [
        ("config_reached_s", f"{figures.config_reached_s:.1f}", "<=60", figures.config_reached_s <= 60),
        ("duplicates", str(figures.duplicates), "0", figures.duplicates == 0),
        ("lost", str(figures.lost), "0", figures.lost == 0),
        ("received", f"{figures.received}/{figures.sent}", "all", figures.received == figures.sent),
        ("converge_s", f"{figures.converge_s:.1f}", "<=60", figures.converge_s <= 60),
        ("books_agree", str(not problems), "True", not problems),
        ("overrun_reports", str(len(figures.overruns)), "1", len(figures.overruns) == 1),
    ]
    print("targets: " + "; ".join(f"{n}={v} ({t}) {'met' if ok else 'missed'}" for n, v, t, ok in checks))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
