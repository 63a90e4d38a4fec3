"""Store and forward: an edge keeps working while its upstream is down and forwards its events later, in order,
once each; the upstream's /api/v1/events stores each event once and refuses what is not an event."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import ManualClock
from core.db import make_engine, unit_of_work
from core.events import ItemRequested, StockLevelChanged
from core.forward import CONSUMER
from core.models import Site
from core.outbox import Dispatcher, OutboxDelivery, OutboxEvent, publish
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from migrations.models import load_all_models
from tests.conftest import LiveServer, login
from vending.models import Machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Upstream:
    """The central installation's HTTP server on a fixed port, which a test can stop and start again."""

    def __init__(self, app: Flask, port: int) -> None:
        self.app, self.port, self.url = app, port, f"http://127.0.0.1:{port}"
        self._server: LiveServer | None = None

    def start(self) -> None:
        self._server = LiveServer(self.app, self.port).__enter__()

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__()
            self._server.server.server_close()
            self._server = None


@pytest.fixture
def token(app: Flask) -> str:
    """The central installation knows plant P1 and its locker L1, and has issued P1's edge an EDGE token."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        site = Site(code="P1", name="Plant 1")
        s.add(site)
        s.flush()
        s.add(Machine(code="L1", name="Locker 1", site_id=site.id, kind="locker_bank"))
        plain, _view = create_token(s, "edge plant 1", [TokenScope.EDGE], site_id=site.id)
        create_user(s, "root", "copper-kettle-41", [Role.ADMIN])
    return plain


@pytest.fixture
def upstream(app: Flask) -> Iterator[Upstream]:
    server = Upstream(app, _free_port())
    yield server
    server.stop()


def _edge(tmp_path: Path, upstream_url: str, token: str) -> Flask:
    from web.app import create_app

    url = f"sqlite:///{tmp_path / 'edge.db'}"
    engine = make_engine(url)
    load_all_models().create_all(engine)
    engine.dispose()
    return create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp_path / "edge-instance"),
            "TESTING": True,
            "SETTINGS": {"upstream_url": upstream_url, "upstream_token": token},
        }
    )


def _publish(edge: Flask, clock: ManualClock, n: int) -> list[str]:
    ids = []
    with unit_of_work(edge.extensions["vendtrack"].session_factory) as s:
        for k in range(n):
            evt = StockLevelChanged(
                occurred_at=clock.now(),
                site_code="P1",
                sku="GLV-1",
                on_hand=10 - k,
                min_level=2,
                max_level=20,
                low=False,
            )
            publish(s, evt)
            ids.append(evt.event_id)
    return ids


def _dispatcher(edge: Flask, clock: ManualClock) -> Dispatcher:
    services = edge.extensions["vendtrack"]
    return Dispatcher(services.session_factory, services.consumers, clock, max_attempts=3, backoff_seconds=1.0)


def _received(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["vendtrack"].session_factory() as s:
        rows = s.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id)).all()
    return [json.loads(p)["data"] for p in rows]


def test_the_edge_keeps_working_while_the_upstream_is_down_then_forwards_in_order_once(
    app: Flask, token: str, upstream: Upstream, tmp_path: Path
) -> None:
    clock = ManualClock()
    edge = _edge(tmp_path, upstream.url, token)
    first = _publish(edge, clock, 3)  # the upstream is not running yet
    dispatcher = _dispatcher(edge, clock)
    assert dispatcher.run_once().failed == 1, "only the oldest is tried; the others wait behind it"
    for _ in range(5):  # far past max_attempts: a forwarder never gives up
        clock.advance(minutes=10)
        dispatcher.run_once()
    with edge.extensions["vendtrack"].session_factory() as s:
        markers = s.scalars(select(OutboxDelivery).where(OutboxDelivery.consumer == CONSUMER)).all()
        assert [(m.status, m.attempts) for m in markers] == [("retry", 6)]
        assert "unreachable" in markers[0].last_error
    health = edge.test_client().get("/healthz").get_json()
    assert health["status"] == "degraded" and health["upstream"]["waiting"] == 3
    assert "unreachable" in health["upstream"]["last_error"]
    later = _publish(edge, clock, 2)  # the machines keep working meanwhile
    upstream.start()
    clock.advance(minutes=10)
    dispatcher.drain()
    received = [e for e in _received(app) if e["site_code"] == "P1"]
    assert [e["event_id"] for e in received] == first + later, "in the order they happened, each once"
    assert [e["on_hand"] for e in received] == [10, 9, 8, 10, 9]
    health = edge.test_client().get("/healthz").get_json()
    assert health["upstream"]["waiting"] == 0 and health["upstream"]["last_error"] == ""


def test_a_resend_after_a_lost_answer_is_stored_once(
    app: Flask, token: str, upstream: Upstream, tmp_path: Path
) -> None:
    clock = ManualClock()
    upstream.start()
    edge = _edge(tmp_path, upstream.url, token)
    sent = _publish(edge, clock, 1)
    _dispatcher(edge, clock).drain()
    with unit_of_work(edge.extensions["vendtrack"].session_factory) as s:  # as if the answer never arrived
        for marker in s.scalars(select(OutboxDelivery).where(OutboxDelivery.consumer == CONSUMER)):
            s.delete(marker)
    _dispatcher(edge, clock).drain()
    assert [e["event_id"] for e in _received(app)] == sent


def test_a_refused_token_is_named_and_retried(app: Flask, upstream: Upstream, tmp_path: Path) -> None:
    clock = ManualClock()
    upstream.start()
    edge = _edge(tmp_path, upstream.url, "not-a-token")
    _publish(edge, clock, 1)
    _dispatcher(edge, clock).run_once()
    with edge.extensions["vendtrack"].session_factory() as s:
        marker = s.scalar(select(OutboxDelivery).where(OutboxDelivery.consumer == CONSUMER))
        assert marker is not None and marker.status == "retry"
        assert "refused the token (HTTP 401)" in marker.last_error and "VENDTRACK_UPSTREAM_TOKEN" in marker.last_error
    page = edge.test_client()
    with unit_of_work(edge.extensions["vendtrack"].session_factory) as s:
        create_user(s, "edge-admin", "silver-meadow-2", [Role.ADMIN])
    login(page, "edge-admin", "silver-meadow-2")
    html = page.get("/admin/outbox").get_data(as_text=True)
    assert upstream.url in html and "refused the token" in html


def test_the_events_endpoint_takes_events_from_edge_tokens_only(app: Flask, client: FlaskClient, token: str) -> None:
    clock = ManualClock()
    evt = ItemRequested(occurred_at=clock.now(), site_code="P1", worker="W1", machine="L1", description="ear muffs")
    bearer = {"Authorization": f"Bearer {token}"}
    first = client.post("/api/v1/events", data=evt.to_json(), headers=bearer, content_type="application/json")
    assert first.status_code == 201 and first.get_json()["status"] == "accepted"
    again = client.post("/api/v1/events", data=evt.to_json(), headers=bearer, content_type="application/json")
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert [e["description"] for e in _received(app)] == ["ear muffs"]
    plain = client.post("/api/v1/events", data="hello", headers=bearer, content_type="text/plain")
    assert plain.status_code == 415
    unknown = client.post("/api/v1/events", json={"type": "no.such", "version": 1, "data": {}}, headers=bearer)
    assert unknown.status_code == 422 and "not a vendtrack event" in unknown.get_json()["error"]["message"]
    broken = json.loads(evt.to_json())
    del broken["data"]["site_code"]
    missing = client.post("/api/v1/events", json=broken, headers=bearer)
    assert missing.status_code == 422 and "site_code" in missing.get_json()["error"]["message"]
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        gateway, _view = create_token(s, "gw", [TokenScope.GATEWAY])
    refused = client.post("/api/v1/events", data=evt.to_json(), headers={"Authorization": f"Bearer {gateway}"},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 403
    login(client, "root", "copper-kettle-41")  # a person is not an edge
    assert client.post("/api/v1/events", json=json.loads(evt.to_json())).status_code in (400, 403)


def test_an_upstream_that_is_not_http_is_refused_at_start(tmp_path: Path) -> None:
    from core.settings import SettingsError

    with pytest.raises(SettingsError, match="VENDTRACK_UPSTREAM_URL"):
        from core.settings import check_environment

        check_environment({"VENDTRACK_UPSTREAM_URL": "central.example.com"})


def test_an_edge_token_of_another_site_is_refused_and_the_reason_shown(
    app: Flask, token: str, upstream: Upstream, tmp_path: Path
) -> None:
    """The edge of P1 configured with P2's token: the upstream refuses P1's events, nothing is stored there, and
    the edge keeps them waiting (in order, never dropped) with the upstream's reason until the token is fixed."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        other = Site(code="P2", name="Plant 2")
        s.add(other)
        s.flush()
        wrong, _view = create_token(s, "edge plant 2", [TokenScope.EDGE], site_id=other.id)
    clock = ManualClock()
    upstream.start()
    edge = _edge(tmp_path, upstream.url, wrong)
    _publish(edge, clock, 2)
    _dispatcher(edge, clock).run_once()
    with edge.extensions["vendtrack"].session_factory() as s:
        marker = s.scalar(select(OutboxDelivery).where(OutboxDelivery.consumer == CONSUMER))
        assert marker is not None and marker.status == "retry"
        assert "HTTP 403" in marker.last_error and "may post events of site P2 only" in marker.last_error
    assert [e for e in _received(app) if e.get("site_code") == "P1"] == []
