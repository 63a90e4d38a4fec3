"""Count differences reach a manager: audit entry, overview, queue (accept / recount), shrinkage with value."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import Conflict, DomainError
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import World, seed_world
from vending import counts, ledger, restock


def test_difference_is_audited_queued_and_valued(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        ledger.post(s, slot_id=world.slots["A1"], kind="issue", quantity=-2, key="use", at=clock.now())
        restock.record_count(s, world.machine_id, "A1", 2, key="c1", now=clock.now(), actor="user:crib")  # 3 expected
        restock.record_count(s, world.machine_id, "A2", 6, key="c2", now=clock.now(), actor="user:crib")  # 5 expected
        restock.record_count(s, world.machine_id, "A3", 5, key="c3", now=clock.now(), actor="user:crib")  # matches
    with session_factory() as s:
        entries = [e for e in audit.recent(s) if e.action == "vending.count.difference"]
        assert sorted(((e.before, e.after, e.actor) for e in entries), key=repr) == [
            ({"on_hand": 3}, {"on_hand": 2}, "user:crib"),
            ({"on_hand": 5}, {"on_hand": 6}, "user:crib"),
        ]
        queue = counts.open_queue(s)
        assert sorted((d.slot_code, d.expected, d.counted, d.difference, d.value) for d in queue) == [
            ("A1", 3, 2, -1, Decimal("-1.50")),
            ("A2", 5, 6, 1, Decimal("1.50")),
        ]
    a1 = next(d for d in queue if d.slot_code == "A1")
    a2 = next(d for d in queue if d.slot_code == "A2")
    with unit_of_work(session_factory) as s:
        counts.decide(s, a1.ledger_id, "accepted", "user:boss", clock.now(), note="breakage")
        counts.decide(s, a2.ledger_id, "recount", "user:boss", clock.now())
        with pytest.raises(Conflict, match="reviewed already"):
            counts.decide(s, a1.ledger_id, "recount", "user:boss", clock.now())
        with pytest.raises(DomainError, match="decision must be one of"):
            counts.decide(s, a2.ledger_id, "<script>", "user:boss", clock.now())
    with session_factory() as s:
        assert [(d.slot_code, d.decision) for d in counts.open_queue(s)] == [("A2", "recount")]
        assert counts.recount_requested(s, world.machine_id) == {"A2"}
    with unit_of_work(session_factory) as s:  # the recount agrees with the stock: the request is settled
        restock.record_count(s, world.machine_id, "A2", 6, key="c4", now=clock.now() + timedelta(minutes=5))
    with session_factory() as s:
        assert counts.open_queue(s) == []
        lines = counts.shrinkage(s, clock.now() - timedelta(days=1), clock.now() + timedelta(days=1))
        assert [(ln.machine_code, ln.sku, ln.missing, ln.surplus, ln.net, ln.value) for ln in lines] == [
            ("L1", "GLV-1", 1, 0, -1, Decimal("-1.50")),
            ("L1", "DRL-8", 0, 1, 1, Decimal("1.50")),
        ]


@pytest.fixture
def manager(app: Flask, client: FlaskClient) -> tuple[FlaskClient, World]:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        create_user(s, "boss", "ssob-password", [Role.ADMIN])
        create_user(s, "crib", "birc-password", [Role.RESTOCKER])
    return client, world


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_restocker_count_reaches_the_manager(manager: tuple[FlaskClient, World]) -> None:
    client, world = manager
    login(client, "crib", "birc-password")
    page = client.get(f"/vending/restock/{world.machine_id}").get_data(as_text=True)
    token = _csrf(page)
    answer = client.post(
        f"/vending/restock/{world.machine_id}",
        data={"slot": "A1", "counted": "4", "added": "0", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "counted 4, expected 5: difference -1 sent to a manager for review" in answer
    assert '<label class="count-box">Counted in A1 <input name="counted"' in answer  # the boxes carry labels
    bad = client.post(
        f"/vending/restock/{world.machine_id}", data={"slot": "A1", "counted": "1e400", "csrf_token": token}
    )
    assert bad.status_code in (400, 422) and "counted must be a whole number" in bad.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})
    login(client, "boss", "ssob-password")
    overview = client.get("/vending/").get_data(as_text=True)
    assert "1 open" in overview and "GLV-1" in overview and "Waiting for review" in overview
    queue = client.get("/vending/counts").get_data(as_text=True)
    ledger_id = re.search(r'data-ledger="(\d+)"', queue)
    assert ledger_id
    client.post(f"/vending/counts/{ledger_id.group(1)}", data={"decision": "accepted", "csrf_token": _csrf(queue)})
    assert "No count differences waiting" in client.get("/vending/counts").get_data(as_text=True)
    shrink = client.get("/vending/reports/shrinkage").get_data(as_text=True)
    assert re.search(r'id="shrinkage-total">-1.50<', shrink)
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "vending.count.difference" in log and "vending.count.accepted" in log


def test_audit_never_stores_form_tokens(manager: tuple[FlaskClient, World]) -> None:
    client, world = manager
    login(client, "boss", "ssob-password")
    token = _csrf(client.get("/vending/charge-codes").get_data(as_text=True))
    client.post("/vending/charge-policy", data={"job": "required", "work_order": "off", "csrf_token": token})
    factory = client.application.extensions["vendtrack"].session_factory
    with factory() as s:
        entry = next(e for e in audit.recent(s) if e.action == "vending.charge_policy")
    assert entry.before == {"job": "off"} and entry.after == {"job": "required"}  # changed fields only
    assert "csrf" not in repr(entry)
    del world
