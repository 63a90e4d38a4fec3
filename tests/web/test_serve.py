"""`vendtrack serve` in a real process: waitress answers, the outbox dispatcher beats, /healthz shows it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from migrations import upgrade


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_waitress_and_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "VENDTRACK_DATABASE_URL": url,
        "VENDTRACK_INSTANCE_PATH": str(tmp_path),
        "VENDTRACK_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "web", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                    server = response.headers.get("Server", "")
                if health.get("workers"):
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert health.get("database") == "ok", health
        workers = health["workers"]
        assert isinstance(workers, dict) and any(name.startswith("outbox-dispatcher") for name in workers)
        assert all(w["alive"] for w in workers.values())
        assert server == "vendtrack"  # waitress, run with ident="vendtrack"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
