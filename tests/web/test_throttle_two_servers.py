"""Login throttling across processes: two `vendtrack serve` on one database count guesses as one.

An attacker spreading guesses over two web processes (two ports here, several workers behind a load balancer in
production) must meet the same delays as one hammering a single process: the counts live in the database.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_engine, make_session_factory, unit_of_work
from core.models import AuthThrottle
from core.roles import Role
from core.users import create_user
from migrations import upgrade
from tests.conftest import PG_ENV

PASSWORD = "copper-kettle-41"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


@dataclass
class Answer:
    status: int
    retry_after: int
    body: str


class Server:
    """One `vendtrack serve` process on its own port."""

    def __init__(self, url: str, tmp: Path, secret: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "VENDTRACK_DATABASE_URL": url,
            "VENDTRACK_INSTANCE_PATH": str(tmp),
            "VENDTRACK_SECRET_KEY": secret,
            "VENDTRACK_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "web", "serve", "--port", str(self.port), "--threads", "4", "--dispatchers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/login", timeout=2):
                    return
            except OSError:
                assert self.proc.poll() is None, "vendtrack serve exited"
                time.sleep(0.2)
        raise AssertionError(f"vendtrack serve on {self.port} did not answer within 60 s")

    def login(self, username: str, password: str) -> Answer:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect)
        with opener.open(f"{self.base}/login", timeout=10) as page:
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
        assert found
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": found.group(1)})
        try:
            with opener.open(f"{self.base}/login", data=form.encode(), timeout=30) as response:
                return Answer(response.status, 0, "")
        except urllib.error.HTTPError as answer:
            return Answer(answer.code, int(answer.headers.get("Retry-After") or 0), answer.read().decode())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_server: object) -> str:
    """One migrated database for both processes: a SQLite file, or a PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        if postgres_server is None:
            pytest.skip(f"{PG_ENV} not set")
        url = postgres_server.create_database("vt_throttle")  # type: ignore[attr-defined]
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine)) as session:
        create_user(session, "root", PASSWORD, [Role.ADMIN])
    engine.dispose()
    return url


@pytest.fixture
def servers(shared_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    pair = (
        Server(shared_url, tmp_path, "two-servers-one-secret"),
        Server(shared_url, tmp_path, "two-servers-one-secret"),
    )
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


def _row(url: str, scope: str) -> AuthThrottle:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            row = session.scalar(select(AuthThrottle).where(AuthThrottle.scope == scope))
            assert row is not None
            return row
    finally:
        engine.dispose()


def test_guesses_spread_over_two_processes_are_throttled_as_one(
    servers: tuple[Server, Server], shared_url: str
) -> None:
    counted = 0
    first_wait_after: int | None = None
    turn = 0
    deadline = time.monotonic() + 120
    while counted < 7:  # the 7th failure makes the next try wait 8 s
        assert time.monotonic() < deadline
        answer = servers[turn % 2].login("root", f"guess-number-{turn}")
        turn += 1
        if answer.status == 401:
            counted += 1
        else:
            assert answer.status == 429 and "for this account" in answer.body
            first_wait_after = counted if first_wait_after is None else first_wait_after
            time.sleep(answer.retry_after)  # wait out the delay, as a patient attacker would
    assert first_wait_after is not None and first_wait_after >= 4, "three free tries, then delays"
    last = (turn - 1) % 2
    other = servers[1 - last]
    refused = other.login("root", PASSWORD)  # the other process knows the delay the first one set
    assert refused.status == 429 and refused.retry_after >= 2 and "for this account" in refused.body
    assert _row(shared_url, "account").failures == 7, "each process counted into the same row"
    time.sleep(refused.retry_after)
    assert other.login("root", PASSWORD).status == 302, "after the delay the right password works"
    assert _row(shared_url, "account").failures == 0

    sprayed, turn = 0, 0
    while True:  # password spraying: a new name each try, all from this address
        assert time.monotonic() < deadline
        answer = servers[turn % 2].login(f"someone-{turn}", "spring-2026-pass")
        turn += 1
        if answer.status == 429:
            assert "for this address" in answer.body
            break
        assert answer.status == 401
        sprayed += 1
    assert 7 + sprayed >= 21, "twenty free failures per address, then delays"
    assert _row(shared_url, "address").failures == 7 + sprayed
