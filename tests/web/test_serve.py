"""`vendtrack serve` in real processes: gunicorn web processes plus a workers process, and the waitress fallback."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_engine, make_session_factory, unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.support import wait_until
from tests.tracking.conftest import advert_hex, seed_floor
from tests.web.served import Served, children
from tracking.models import Asset, Zone


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


def _sockets_on(port: int) -> tuple[set[str], dict[int, str]]:
    """(inodes of the listening sockets on local `port`, remote port -> inode of each connection accepted on it)."""
    listening, accepted = set(), {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) != port:
            continue
        if fields[3] == "0A":  # LISTEN
            listening.add(fields[9])
        else:
            accepted[int(fields[2].split(":")[1], 16)] = fields[9]
    return listening, accepted


def _holders(inodes: set[str], pids: list[int]) -> dict[str, set[int]]:
    """Socket inode -> the processes holding a file descriptor of it."""
    held: dict[str, set[int]] = {inode: set() for inode in inodes}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in held:
                held[target[8:-1]].add(pid)
    return held


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_keep_alive_connections_spread_over_the_web_processes(database_url: str, tmp_path: Path) -> None:
    """Each web process listens on a socket of its own (SO_REUSEPORT), so the kernel shares a burst of keep-alive
    connections (kiosks reconnecting, a load test) among them. On one shared socket the process that woke first
    accepted all 16 of a load test's connections and served them alone while the other idled. All 16 landing on
    one of two by the kernel's hash: 1 chance in 32,768."""
    with Served(database_url, tmp_path, "--processes", "2", "--threads", "32") as served:
        served.wait_ready()
        [arbiter] = [p for p in children(served.proc.pid) if children(p)]
        web = children(arbiter)
        connections = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=10) for _ in range(16)]
        for connection in connections:
            connection.connect()
        for connection in connections:
            connection.request("GET", "/livez")
            assert connection.getresponse().read() == b"ok\n"  # answered: accepted, and kept open
        listening, accepted = _sockets_on(served.port)
        listeners = _holders(listening, [arbiter, *web])
        assert sorted(map(sorted, listeners.values())) == sorted([p] for p in web), listeners  # one each, its own
        mine = {accepted[c.sock.getsockname()[1]] for c in connections}
        served_by = _holders(mine, web)
        assert all(len(pids) == 1 for pids in served_by.values()), served_by
        assert set().union(*served_by.values()) == set(web), served_by  # both processes serve some
        for connection in connections:
            connection.close()
        assert served.stop() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_refuses_a_port_another_server_holds(database_url: str, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "VENDTRACK_DATABASE_URL": database_url, "VENDTRACK_INSTANCE_PATH": str(tmp_path)}
        done = subprocess.run([sys.executable, "-m", "web", "serve", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr
    assert "choose another --port" in done.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_falls_back_to_waitress_in_one_process(database_url: str, tmp_path: Path) -> None:
    with Served(database_url, tmp_path, "--server", "waitress", "--threads", "8") as served:
        health = served.wait_ready()
        assert health["database"] == "ok", health
        assert all(w["alive"] for w in health["workers"].values())
        _, server = served.health()
        assert server == "vendtrack"  # waitress, run with ident="vendtrack"
        assert children(served.proc.pid) == []  # the workers run as threads of the one process


def test_gateway_uploads_to_the_web_processes_move_assets(database_url: str, tmp_path: Path) -> None:
    """The engine lives in the workers process: an upload taken by a web process reaches it (tracking.inbox)."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        seed_floor(session)
        token, _ = create_token(session, "gw", [TokenScope.GATEWAY])
    records = [
        {"type": "Gateway", "mac": "AC233FC001EA"},
        {"type": "Unknown", "mac": "AC233FA00001", "rssi": -55, "rawData": advert_hex(1)},
    ]
    body = json.dumps(records).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def placed() -> str | None:
        post = urllib.request.Request(f"{served.base}/api/v1/gateways/gw-a/minew", body, headers, method="POST")
        with urllib.request.urlopen(post, timeout=5) as response:
            assert json.loads(response.read())["accepted"] == 1
        with unit_of_work(factory) as session:
            return session.scalar(
                select(Zone.code).join(Asset, Asset.zone_id == Zone.id).where(Asset.asset_tag == "A-1")
            )

    try:
        with Served(database_url, tmp_path, "--processes", "2", "--threads", "8") as served:
            served.wait_ready()
            assert wait_until(lambda: placed() == "A", timeout=60, every=0.5, what="asset A-1 placed in room A")
    finally:
        engine.dispose()


def test_serve_starts_an_engine_process_per_extra_mqtt_partition(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"vtserve-{os.urandom(4).hex()}/"
    for name, value in {"TRACKING_MQTT": "1", "TRACKING_MQTT_PROCESSES": "2", "TRACKING_MQTT_PREFIX": prefix}.items():
        monkeypatch.setenv(f"VENDTRACK_{name}", value)
    with Served(database_url, tmp_path, "--processes", "1", "--threads", "8") as served:
        served.wait_ready()
        expected = {f"tracking-mqtt mqtt://127.0.0.1:1883/{prefix} partition {i}/2" for i in range(2)}

        def ingesters() -> set[str]:
            found = served.health()[0].get("ingesters", {}).values()
            return {item["role"] for item in found if item["role"].startswith("tracking-mqtt") and item["alive"]}

        wait_until(lambda: ingesters() == expected, timeout=60, every=0.5, what="both partitions' consumers")
        supervised = children(served.proc.pid)
        assert len(supervised) == 3, supervised  # the gunicorn arbiter, the workers process, tracking-engine-1
        assert served.stop() == 0
