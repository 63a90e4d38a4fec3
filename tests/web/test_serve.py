"""`vendtrack serve` in real processes: gunicorn web processes plus a workers process, and the waitress fallback."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.web.served import Served, children


def _pid_of(info: str) -> int:
    return int(info.split()[-1])  # "pid 1234"


def test_serve_runs_web_processes_and_a_workers_process(database_url: str, tmp_path: Path) -> None:
    with Served(database_url, tmp_path, "--processes", "2", "--threads", "8") as served:
        health = served.wait_ready()
        assert health["database"] == "ok", health
        workers = health["workers"]
        assert all(w["alive"] for w in workers.values()), workers
        supervised = children(served.proc.pid)
        assert len(supervised) == 2, supervised  # the gunicorn arbiter and the workers process
        [dispatcher] = [w for name, w in workers.items() if name.startswith("outbox-dispatcher")]
        workers_pid = _pid_of(dispatcher["info"])
        assert workers_pid in supervised
        [arbiter] = [p for p in supervised if p != workers_pid]
        web = children(arbiter)
        assert len(web) == 2, web  # one web process per --processes
        assert workers_pid not in web
        answered = set()
        for _ in range(40):  # keep-alive off: each request may land on either web process; both answer
            with urllib.request.urlopen(f"{served.base}/livez", timeout=5) as response:
                assert response.read() == b"ok\n"
                answered.add(response.status)
        assert answered == {200}
        assert served.stop() == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in [*supervised, *web])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_falls_back_to_waitress_in_one_process(database_url: str, tmp_path: Path) -> None:
    with Served(database_url, tmp_path, "--server", "waitress", "--threads", "8") as served:
        health = served.wait_ready()
        assert health["database"] == "ok", health
        assert all(w["alive"] for w in health["workers"].values())
        _, server = served.health()
        assert server == "vendtrack"  # waitress, run with ident="vendtrack"
        assert children(served.proc.pid) == []  # the workers run as threads of the one process
