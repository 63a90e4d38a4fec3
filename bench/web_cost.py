"""Benchmark: what each hot endpoint of bench/web_load.py costs in-process: CPU ms and SQL statements per request.

The load figures of bench/web_load.py move with whatever else the machine runs; the CPU time one process spends
per request through the Flask test client (no server, no client, no network) moves much less, so it is the
figure to judge a change by. Seeds the same world as bench/web_load.py on a fresh database (SQLite, or a new
database on the PostgreSQL server given), then per endpoint: warms up, runs `--rounds` rounds of `--requests`
requests and keeps the best round (the one least disturbed by other work). Statements are counted at the
driver on SQLite (every statement, prepared ones and BEGIN/COMMIT included) and through SQLAlchemy's events on
PostgreSQL (prepared statements, run on the raw connection, are not seen there).

Target per product endpoint: CPU per request <= 2x the bare endpoint's (what bench/web_load.py's ">= 0.5x the
bare endpoint's throughput" asks of a CPU-bound server).

    python bench/web_cost.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                             [--requests 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from bench.web_load import drop_database, fresh_database, seed
from tests.tracking.conftest import advert_hex
from web.app import create_app
from web.session import READ_FACTORY

RATIO_TARGET = 2.0


def _count_statements(engines: list[Engine], counter: list[int]) -> None:
    def bump(*_args: Any) -> None:
        counter[0] += 1

    for engine in engines:
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(bump))
        else:
            event.listen(engine, "before_cursor_execute", bump)


def _cases(tokens: dict[str, str]) -> dict[str, tuple[str, str, str, Any]]:
    adverts = {"adverts": [{"address": f"AA:00:00:00:00:{n:02X}", "rssi": -60 - n, "data": advert_hex(n % 3 + 1)}
                           for n in range(20)]}  # fmt: skip
    return {
        "bare": ("GET", "/livez", "", None),
        "kiosk": ("GET", "/api/v1/vending/kiosk/L1/state", tokens["kiosk"], None),
        "gateway": ("POST", "/api/v1/gateways/gw-a/adverts", tokens["gateway"], adverts),
        "assets": ("GET", "/api/v1/assets?limit=50", tokens["read"], None),
        "po_list": ("GET", "/api/v1/procurement/purchase-orders?status=", tokens["erp"], None),
    }


def _caller(client: FlaskClient, name: str, case: tuple[str, str, str, Any]) -> Callable[[], None]:
    method, path, token, body = case
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call() -> None:
        response = client.open(path, method=method, headers=headers, json=body)
        if response.status_code >= 300:
            raise SystemExit(f"{name}: {method} {path} answered {response.status_code}: {response.get_data()[:300]!r}")

    return call


def measure(url: str, folder: Path, requests: int, rounds: int) -> dict[str, tuple[float, float]]:
    """endpoint -> (best CPU ms per request, statements per request)."""
    tokens = seed(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance")})
    read_factory = app.extensions.get(READ_FACTORY)
    engines = [app.extensions["vendtrack_engine"]] + ([read_factory.kw["bind"]] if read_factory else [])
    counter = [0]
    _count_statements(engines, counter)
    client = app.test_client()
    signed_in = client.post("/api/v1/vending/kiosk/L1/badge", json={"badge": "04A21B1C"},
                            headers={"Authorization": f"Bearer {tokens['kiosk']}"})  # fmt: skip
    if signed_in.status_code != 200:
        raise SystemExit(f"the kiosk sign-in failed ({signed_in.status_code}): the kiosk figure would be a refusal")
    found: dict[str, tuple[float, float]] = {}
    for name, case in _cases(tokens).items():
        call = _caller(client, name, case)
        for _ in range(20):
            call()
        count = requests * (10 if name == "bare" else 1)
        best, statements = float("inf"), 0.0
        for _ in range(rounds):
            counter[0] = 0
            started = time.process_time()
            for _ in range(count):
                call()
            best = min(best, (time.process_time() - started) / count * 1000)
            statements = counter[0] / count
        found[name] = (best, statements)
    for engine in engines:
        engine.dispose()
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a fresh database is made on it)")
    parser.add_argument("--requests", type=int, default=100, help="requests per round (x10 for the bare one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="vt-web-cost-"))
    url, dropped = fresh_database(args.database_url, folder)
    try:
        found = measure(url, folder, args.requests, args.rounds)
    finally:
        if dropped is not None:
            drop_database(args.database_url, dropped)
        shutil.rmtree(folder, ignore_errors=True)
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"database: {backend}; CPU ms per request, best of {args.rounds} rounds (one process, test client)")
    bare_ms = found["bare"][0]
    checks = []
    for name, (ms, statements) in found.items():
        ratio = ms / bare_ms if bare_ms else 0.0
        print(f"{name:8s} {ms:7.2f} ms  {ratio:5.1f}x bare  {statements:5.1f} statements")
        if name != "bare":
            checks.append((f"{name}_cpu_vs_bare", f"{ratio:.1f}", f"<={RATIO_TARGET:g}", ratio <= RATIO_TARGET))
    print(json.dumps({name: {"cpu_ms": round(ms, 3), "statements": s} for name, (ms, s) in found.items()}))
    print("targets: " + "; ".join(f"{n}={v} ({t}) {'met' if ok else 'missed'}" for n, v, t, ok in checks))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
