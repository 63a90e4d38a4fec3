"""Push to the locate page across processes: two app instances on one database, the engine's writes in one, the
event stream served by the other (its own engine, its own push hub); and the page in headless Chromium."""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.clock import SystemClock
from core.db import unit_of_work
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import LiveServer
from tests.tracking.conftest import Floor, seed_floor, tag_key
from tracking import locate_events, reasons, recording, services
from tracking.engine import RoomChange
from tracking.models import Asset, Zone
from web.app import create_app

DEADLINE_S = 20.0  # generous: the machine is shared; no test asserts on elapsed time
PUSHED_S = 10.0  # a pushed move shows within this; the page's slow refresh (30 s) would not


@pytest.fixture
def web_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A second app on the same database: the web process that serves the stream."""
    other = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "web"), "TESTING": True})
    with LiveServer(other) as server:
        yield server


class Stream:
    """Reads server-sent events in a thread; (name, data) pairs arrive in `events`."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        self.response = urllib.request.urlopen(request, timeout=60)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        assert self.response.readline() == b"retry: 2000\n"  # the stream is open and subscribed
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

    def next(self) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=DEADLINE_S)


def _seed(app: Flask) -> tuple[Floor, str]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        reader, _ = create_token(session, "reader", [TokenScope.READ])
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
    return floor, reader


def _move(app: Flask, minor: int, to_zone: str) -> None:
    """What the engine's flush writes in its own process: the room change, with its push notice."""
    now = SystemClock().now().timestamp()
    why = reasons.strongest(f"gw-{to_zone.lower()}", -60, None, None, None)
    change = RoomChange(tag_key(minor), None, to_zone, 0.9, why, now)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert recording.apply_room_changes(session, [change]) == 1


def test_a_move_and_a_status_change_reach_a_stream_served_by_another_app(app: Flask, web_server: LiveServer) -> None:
    floor, reader = _seed(app)
    stream = Stream(web_server.url + "/api/v1/tracking/events", reader)
    _move(app, 1, "B")
    assert stream.next() == ("assets", {"kind": "moved", "ids": [floor.asset_ids["A-1"]]})
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        services.change_status(session, floor.asset_ids["A-2"], "in_use", "user:nina")
    assert stream.next() == ("assets", {"kind": "status", "ids": [floor.asset_ids["A-2"]]})
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:  # rolled back: nothing announced
        locate_events.announce(session, "moved", [floor.asset_ids["A-3"]], SystemClock().now())
        session.rollback()
    _move(app, 3, "A")
    assert stream.next() == ("assets", {"kind": "moved", "ids": [floor.asset_ids["A-3"]]})


def test_the_stream_needs_a_reader(app: Flask, web_server: LiveServer) -> None:
    _seed(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        gateway, _ = create_token(session, "gw", [TokenScope.GATEWAY])
    request = urllib.request.Request(
        web_server.url + "/api/v1/tracking/events", headers={"Authorization": f"Bearer {gateway}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403


def _open_locate(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/tracking/?q=pump")
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", "walnut-lantern-7")
    page.click("button[type=submit]")
    page.wait_for_selector("#floor-map circle.dot[data-asset-id]", timeout=DEADLINE_S * 1000)


def _zone_of(page: Any, asset_id: int, zone: str, within_s: float = DEADLINE_S) -> None:
    page.wait_for_selector(f'#floor-map circle.dot[data-asset-id="{asset_id}"][data-zone="{zone}"]',
                           timeout=within_s * 1000)  # fmt: skip


@pytest.mark.browser
def test_the_open_locate_page_follows_a_move_without_polling(app: Flask, web_server: LiveServer, page: Any) -> None:
    floor, _ = _seed(app)
    _move(app, 1, "A")
    maps: list[str] = []
    page.on("request", lambda r: maps.append(r.url) if "/api/v1/tracking/map" in r.url else None)
    _open_locate(page, web_server)
    page.wait_for_selector("#floor-map[data-refresh=push]", timeout=DEADLINE_S * 1000)
    _zone_of(page, floor.asset_ids["A-1"], "A")
    before = len(maps)
    _move(app, 1, "B")  # in the other app, as the engine's process would
    _zone_of(page, floor.asset_ids["A-1"], "B", PUSHED_S)  # well before the slow 30 s refresh could bring it
    assert page.locator("#results tbody tr").first.locator(".room").inner_text() == "Room B"
    assert len(maps) - before <= 2  # the push's refresh (and at most one slow one), not a poll every 3 s


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Chromium is the slow part
def test_without_the_stream_the_page_polls_as_before(app: Flask, web_server: LiveServer, page: Any) -> None:
    floor, _ = _seed(app)
    _move(app, 1, "A")
    page.route("**/api/v1/tracking/events", lambda route: route.abort())
    _open_locate(page, web_server)
    page.wait_for_selector("#floor-map[data-refresh=poll]", timeout=DEADLINE_S * 1000)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:  # a move that announces nothing
        zone_b = session.scalar(select(Zone.id).where(Zone.code == "B"))
        asset = session.get(Asset, floor.asset_ids["A-1"])
        assert asset is not None
        asset.zone_id = zone_b
    _zone_of(page, floor.asset_ids["A-1"], "B")
    assert page.get_attribute("#floor-map", "data-refresh") == "poll"
