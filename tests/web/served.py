"""A real `vendtrack serve` in subprocesses for tests: started on a database URL, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Served:
    """`python -m web serve <args>` on `url`; `wait_ready` returns /healthz once the workers beat."""

    def __init__(self, url: str, instance: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "VENDTRACK_DATABASE_URL": url,
            "VENDTRACK_INSTANCE_PATH": str(instance),
            "VENDTRACK_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "web", "serve", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def health(self) -> tuple[dict[str, Any], str]:
        with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as response:
            return json.loads(response.read()), response.headers.get("Server", "")

    def wait_ready(self, deadline_s: float = 90.0, worker_prefix: str = "outbox-dispatcher") -> dict[str, Any]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}: {self.proc.stdout.read()}")  # type: ignore[union-attr]
            try:
                health, _ = self.health()
                if any(name.startswith(worker_prefix) for name in health.get("workers", {})):
                    return health
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("serve did not become ready with its workers in time")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.stop()
