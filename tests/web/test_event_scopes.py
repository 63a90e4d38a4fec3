"""Attacks on /api/v1/events: a token may post only events of what it is bound to, and every refusal is audited.

The world: site S1 with locker L1 and coil machine C1, site S2 with locker L2. A kiosk token paired with C1, an
edge token of S1, an unpaired device token and a gateway token try to post each other's events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.clock import SystemClock
from core.db import unit_of_work
from core.events import Event, ItemDispensed, StockLevelChanged, StockReceived
from core.models import Site
from core.outbox import OutboxEvent
from core.roles import TokenScope
from core.users import create_token
from tests.vending.conftest import seed_world
from vending import pairing
from vending.models import Machine


@dataclass(frozen=True)
class Tokens:
    kiosk_c1: str
    edge_s1: str
    unpaired: str
    gateway: str


@pytest.fixture
def tokens(app: Flask) -> Tokens:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        coil = Machine(code="C1", name="Coil 1", site_id=world.site_id, kind="coil_machine")
        s2 = Site(code="S2", name="Site two")
        s.add_all([coil, s2])
        s.flush()
        s.add(Machine(code="L2", name="Locker 2", site_id=s2.id, kind="locker_bank"))
        kiosk = pairing.pair(s, coil.id, "boss", "user:boss", SystemClock())
        edge, _ = create_token(s, "edge S1", [TokenScope.EDGE], site_id=world.site_id)
        unpaired, _ = create_token(s, "loose device", [TokenScope.DEVICE], site_id=world.site_id)
        gateway, _ = create_token(s, "gw", [TokenScope.GATEWAY])
    return Tokens(kiosk.token, edge, unpaired, gateway)


def _dispensed(machine: str, site: str, quantity: int = 1) -> ItemDispensed:
    return ItemDispensed(
        occurred_at=SystemClock().now(), site_code=site, sku="GLV-1", quantity=quantity, worker="W1",
        machine=machine, slot="A1",
    )  # fmt: skip


def _post(client: FlaskClient, token: str, body: Event | dict[str, Any] | str) -> Any:
    data = body.to_json() if isinstance(body, Event) else body if isinstance(body, str) else json.dumps(body)
    return client.post(
        "/api/v1/events", data=data, headers={"Authorization": f"Bearer {token}"}, content_type="application/json"
    )


def _stored(app: Flask) -> int:
    with app.extensions["vendtrack"].session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


def _refusals(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    with app.extensions["vendtrack"].session_factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "api.event_refused").order_by(AuditEntry.id))
        return [(r.actor, json.loads(r.after_json)) for r in rows]


def test_a_kiosk_token_cannot_post_another_machines_event(app: Flask, client: FlaskClient, tokens: Tokens) -> None:
    before = _stored(app)
    forged = _post(client, tokens.kiosk_c1, _dispensed("L1", "S1", quantity=999))  # the finding of issue 11
    assert forged.status_code == 403
    assert forged.get_json()["error"] == {
        "code": "wrong_machine",
        "message": "event of machine 'L1': this token may post events of machine C1 only",
        "field": "data.machine",
    }
    other_site = _post(client, tokens.kiosk_c1, _dispensed("C1", "S2"))
    assert other_site.status_code == 403 and other_site.get_json()["error"]["code"] == "wrong_site"
    level = StockLevelChanged(
        occurred_at=SystemClock().now(), site_code="S1", sku="GLV-1", on_hand=0, min_level=5, max_level=9, low=True
    )
    not_a_machine_fact = _post(client, tokens.kiosk_c1, level)
    assert not_a_machine_fact.status_code == 403
    assert not_a_machine_fact.get_json()["error"]["code"] == "event_type_not_allowed"
    assert _stored(app) == before, "nothing refused was stored, so no consumer saw it"
    refusals = _refusals(app)
    assert [r["reason"] for _a, r in refusals] == ["wrong_machine", "wrong_site", "event_type_not_allowed"]
    actor, first = refusals[0]
    assert actor.startswith("token:kiosk C1 paired by boss")
    assert (first["event_type"], first["machine"], first["site_code"]) == ("vending.item_dispensed", "L1", "S1")
    own = _post(client, tokens.kiosk_c1, _dispensed("C1", "S1"))
    assert own.status_code == 201 and _stored(app) == before + 1


def test_an_edge_token_cannot_post_another_sites_events(app: Flask, client: FlaskClient, tokens: Tokens) -> None:
    other_site = _post(client, tokens.edge_s1, _dispensed("L2", "S2"))
    assert other_site.status_code == 403 and other_site.get_json()["error"]["code"] == "wrong_site"
    foreign_machine = _post(client, tokens.edge_s1, _dispensed("L2", "S1"))
    assert foreign_machine.status_code == 403
    assert "machine 'L2' is a machine of site S2" in foreign_machine.get_json()["error"]["message"]
    received = StockReceived(
        occurred_at=SystemClock().now(), site_code="S1", sku="GLV-1", quantity=50, po_number="PO-1", line_number=1
    )
    central_fact = _post(client, tokens.edge_s1, received)
    assert (
        central_fact.status_code == 403
        and "may not post procurement.stock_received" in (central_fact.get_json()["error"]["message"])
    )
    assert [r["reason"] for _a, r in _refusals(app)] == [
        "wrong_site", "wrong_machine", "event_type_not_allowed",
    ]  # fmt: skip
    for machine in ("L1", "C1", "EDGE-ONLY-9"):  # a machine configured on the edge alone is its site's business
        assert _post(client, tokens.edge_s1, _dispensed(machine, "S1")).status_code == 201


def test_unbound_and_unrelated_tokens_post_nothing(app: Flask, client: FlaskClient, tokens: Tokens) -> None:
    before = _stored(app)  # the seeded stock's own events
    loose = _post(client, tokens.unpaired, _dispensed("L1", "S1"))
    assert loose.status_code == 403 and loose.get_json()["error"]["code"] == "token_not_bound"
    assert _post(client, tokens.gateway, _dispensed("L1", "S1")).status_code == 403
    assert _post(client, "vt_not-a-token", _dispensed("L1", "S1")).status_code == 401
    assert _stored(app) == before


def test_an_event_id_is_one_event(app: Flask, client: FlaskClient, tokens: Tokens) -> None:
    before = _stored(app)
    evt = _dispensed("L1", "S1")
    assert _post(client, tokens.edge_s1, evt).status_code == 201
    resend = _post(client, tokens.edge_s1, evt)
    assert resend.status_code == 200 and resend.get_json()["status"] == "duplicate"
    body = json.loads(evt.to_json())
    body["data"]["quantity"] = 500
    hijack = _post(client, tokens.edge_s1, body)
    assert hijack.status_code == 409 and hijack.get_json()["error"]["code"] == "event_id_taken"
    body["data"]["event_id"] = "x"
    short = _post(client, tokens.edge_s1, body)
    assert short.status_code == 422 and short.get_json()["error"]["field"] == "data.event_id"
    assert [r["reason"] for _a, r in _refusals(app)] == ["event_id_taken", "invalid_event_id"]
    assert _stored(app) == before + 1


@pytest.mark.parametrize(
    "hostile",
    [
        '{"type": "vending.item_dispensed", "version": 1, "data": ' + "[" * 5000 + "]" * 5000 + "}",
        "[" * 100_000,
        '{"type": "vending.item_dispensed", "version": 1, "data": {"quantity": NaN}}',
        '{"type": "vending.item_dispensed", "version": 1, "data": {"quantity": 1e400}}',
        '{"type": "vending.item_dispensed\\u0000", "version": 1, "data": {}}',
        '{"type": 5, "version": "1", "data": []}',
        '{"type": "vending.item_dispensed", "version": 1, "data": {"site_code": "' + "S" * 100_000 + '"}}',
        "null",
    ],
)
def test_hostile_bodies_are_refused_with_the_error_shape(
    app: Flask, client: FlaskClient, tokens: Tokens, hostile: str
) -> None:
    before = _stored(app)
    response = _post(client, tokens.edge_s1, hostile)
    assert 400 <= response.status_code < 500, response.status_code
    assert set(response.get_json()["error"]) == {"code", "message", "field"}
    assert _stored(app) == before


def test_absurd_values_inside_a_well_formed_event_are_refused(app: Flask, client: FlaskClient, tokens: Tokens) -> None:
    before = _stored(app)
    body = json.loads(_dispensed("L1", "S1").to_json())
    for field, value in (("quantity", 1.5), ("quantity", "999"), ("quantity", True), ("occurred_at", "yesterday")):
        response = _post(client, tokens.edge_s1, {**body, "data": {**body["data"], field: value}})
        assert response.status_code == 422 and field in response.get_json()["error"]["message"], (field, value)
    assert _stored(app) == before
