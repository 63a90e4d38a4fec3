"""The kiosk's event stream across processes: a real multi-process `vendtrack serve` (2 web processes and the
workers process that owns the lock board), a badge read recorded by another process, a dispense authorised by a
web process and run by the workers process, each pushed to the screen; and the same screen in headless Chromium."""

from __future__ import annotations

import http.cookiejar
import json
import queue
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SystemClock
from core.db import make_engine, make_session_factory, unit_of_work
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.vending.conftest import kerong_config, seed_world
from tests.web.served import Served
from vending import kiosk_state, pairing

API = "/api/v1/vending/kiosk/L1"
DEADLINE_S = 30.0  # generous: the machine is shared; no test asserts on elapsed time


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def served_kiosk(
    database_url: str, factory: sessionmaker[Session], lockboard: LockBoardSim, tmp_path: Path
) -> Iterator[tuple[Served, str]]:
    world = seed_world(factory, kerong_config(lockboard.url))
    with unit_of_work(factory) as s:
        plain = pairing.pair(s, world.machine_id, "boss", "user:boss", SystemClock()).token
    with Served(database_url, tmp_path, "--processes", "2", "--threads", "16") as served:
        served.wait_ready()
        yield served, plain


class EventReader:
    """Reads a server-sent event stream in a thread; events arrive in `events` as (name, data)."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        self.response = urllib.request.urlopen(request, timeout=60)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name = ""
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    self.events.put((name, json.loads(line[6:])))
                    name = ""
        except (OSError, ValueError):
            pass

    def next(self, wanted: str) -> dict[str, Any]:
        while True:
            name, data = self.events.get(timeout=DEADLINE_S)
            if name == wanted:
                return data


def _post(opener: urllib.request.OpenerDirector, url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with opener.open(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def test_badge_and_dispense_reach_the_stream_across_processes(
    served_kiosk: tuple[Served, str], factory: sessionmaker[Session]
) -> None:
    served, token = served_kiosk
    stream = EventReader(served.base + API + "/events", token)
    with unit_of_work(factory) as s:  # this test process stands in for the workers process's serial reader
        kiosk_state.record_badge(s, "L1", "04A21B1C", SystemClock().now())
    assert stream.next("badge") == {"badge": "04A21B1C"}
    with unit_of_work(factory) as s:
        assert kiosk_state.view(s, "L1").badge_waiting is False  # taken once, by the stream
        assert kiosk_state.take_badge(s, "L1", SystemClock().now()) is None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    assert _post(opener, served.base + API + "/badge", token, {"badge": "04A21B1C"})["worker"]["code"] == "W1"
    started = _post(opener, served.base + API + "/dispense", token, {"slot": "A1", "quantity": 1})["dispense"]
    assert started["status"] == "authorised"
    while "status" not in (event := stream.next("dispense")):  # phases from the workers process, then the outcome
        assert event["id"] == started["id"]
    assert event == {"kind": "dispense", "id": started["id"], "phase": "completed", "status": "completed"}
    with opener.open(_get(served.base + API + f"/dispense/{started['id']}", token), timeout=30) as response:
        final = json.loads(response.read())["dispense"]
    assert (final["status"], final["taken"]) == ("completed", 1)


def _get(url: str, token: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Chromium is the slow part
def test_screen_signs_in_from_a_pushed_badge_without_polling(
    served_kiosk: tuple[Served, str], factory: sessionmaker[Session], browser: Any
) -> None:
    served, token = served_kiosk
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "vendtrack_device", "value": token, "url": served.base}])
    polls: list[str] = []
    try:
        screen = context.new_page()
        screen.on("request", lambda r: polls.append(r.url) if r.url.endswith("/poll") else None)
        screen.goto(served.base + "/kiosk/L1")
        screen.wait_for_selector("#kiosk[data-stream=open]", timeout=DEADLINE_S * 1000)
        polled_before = len(polls)
        with unit_of_work(factory) as s:
            kiosk_state.record_badge(s, "L1", "04A22B1C", SystemClock().now())
        screen.wait_for_selector("#screen-items:not([hidden])", timeout=DEADLINE_S * 1000)
        assert screen.inner_text("#who") == "Worker W2"
        assert len(polls) == polled_before  # the read came on the stream, not from a poll
    finally:
        context.close()
