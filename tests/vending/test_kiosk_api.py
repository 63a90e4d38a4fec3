"""The kiosk page and its JSON calls through Flask, with the Kerong simulator behind the locker bank."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import login
from tests.support import wait_until
from tests.vending.conftest import World, running_kiosk
from vending import ledger
from vending.lots import LotRef
from vending.models import Dispense, LedgerEntry, LedgerLot, SlotLot, SlotStock, UnknownBadge

API = "/api/v1/vending/kiosk/L1"


def _prepare(s: Session, world: World) -> None:
    create_user(s, "nurse", "harbour-violet-5", [Role.STAFF])


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard, _prepare) as world:
        yield world


def _kiosk(client: FlaskClient) -> dict[str, str]:
    page = client.get("/kiosk/L1")
    assert page.status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert token
    return {"X-CSRF-Token": token.group(1)}


def _wait(client: FlaskClient, dispense_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{API}/dispense/{dispense_id}").get_json()["dispense"]
        return body if body["status"] in ("completed", "failed") else None

    return wait_until(finished, what=f"dispense {dispense_id} to finish", every=0.02)


def test_badge_dispense_logout(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    signed = client.post(f"{API}/badge", json={"badge": ";04A21B1C?"}, headers=headers)
    assert signed.status_code == 200, signed.get_json()
    body = signed.get_json()
    assert body["worker"]["code"] == "W1"
    assert [(i["slot"], i["stock"]) for i in body["items"]] == [("A1", 5), ("A2", 5), ("A3", 5)]
    started = client.post(
        f"{API}/dispense", json={"slot": "A1", "quantity": 1, "request_key": "tap-1"}, headers=headers
    ).get_json()["dispense"]
    assert started["status"] == "authorised"
    done = _wait(client, started["id"])
    assert (done["status"], done["taken"]) == ("completed", 1), done
    again = client.post(f"{API}/dispense", json={"slot": "A1", "request_key": "tap-1"}, headers=headers)
    assert again.get_json()["dispense"]["id"] == started["id"]  # a double tap dispenses once
    with app.extensions["vendtrack"].session_factory() as s:
        assert ledger.on_hand(s, kiosk_world.slots["A1"]) == 4
    assert client.post(f"{API}/logout", json={}, headers=headers).status_code == 200
    after = client.get(f"{API}/state")
    assert after.status_code == 409 and after.get_json()["error"]["code"] == "no_worker"


def test_refusals_are_clear(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    unknown = client.post(f"{API}/badge", json={"badge": "CAFEBABE"}, headers=headers)
    assert unknown.status_code == 422
    assert "not enrolled; it was recorded" in unknown.get_json()["error"]["message"]
    with app.extensions["vendtrack"].session_factory() as s:
        assert s.scalar(select(UnknownBadge.value)) == "MF:CAFEBABE"
    wrong = client.post(f"{API}/pin", json={"worker_code": "W2", "pin": "9999"}, headers=headers)
    said = "badge or PIN not accepted: 4 tries left before a 15-minute lockout; check your ID and PIN or use your badge"
    assert wrong.status_code == 422 and wrong.get_json()["error"]["message"] == said
    stranger = client.post(f"{API}/pin", json={"worker_code": "W99", "pin": "9999"}, headers=headers)
    assert stranger.status_code == 422 and stranger.get_json() == wrong.get_json(), "an unknown ID is told the same"
    assert client.post(f"{API}/pin", json={"worker_code": "W2", "pin": "1234"}, headers=headers).status_code == 200
    too_many = client.post(f"{API}/dispense", json={"slot": "A1", "quantity": 9}, headers=headers)
    assert too_many.get_json()["dispense"]["detail"] == "quantity must be between 1 and 5"
    nobody = client.post(f"{API}/dispense", json={"slot": "Z9"}, headers=headers)
    assert nobody.status_code == 404 and "not stocked on L1" in nobody.get_json()["error"]["message"]


def test_inactivity_signs_the_worker_out(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    app.config["VENDING_KIOSK_IDLE_SECONDS"] = 0
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    idle = wait_until(lambda: client.get(f"{API}/state").get_json().get("error"), what="the sign-out after 0 s idle")
    assert idle["message"] == "signed out after inactivity: badge in again"


def test_kiosk_needs_a_kiosk_device(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "nurse", "harbour-violet-5")
    assert client.get("/kiosk/L1").status_code == 403
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        plain, _ = create_token(s, "kiosk-L1", [TokenScope.DEVICE])
    device = app.test_client()
    bearer = {"Authorization": f"Bearer {plain}"}
    assert device.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=bearer).status_code == 200
    assert device.get(f"{API}/state", headers=bearer).get_json()["worker"]["code"] == "W1"


def test_tools_restock_and_requests_in_the_kiosk(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    from vending import tools

    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        tools.add_tool(s, "TW-9", kiosk_world.items["DRL-8"], kiosk_world.site_id)
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers)
    out = client.post(f"{API}/tools/checkout", json={"serial": "TW-9", "hours": 4}, headers=headers)
    assert out.get_json()["tool"]["status"] == "out"
    back = client.post(f"{API}/tools/return", json={"serial": "TW-9", "condition": "damaged"}, headers=headers)
    assert back.get_json()["tool"]["status"] == "repair"
    asked = client.post(f"{API}/request-item", json={"description": "anti-vibration gloves"}, headers=headers)
    assert asked.status_code == 200
    with app.extensions["vendtrack"].session_factory() as s:
        from core.outbox import OutboxEvent

        payload = s.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "vending.item_requested")).one()
        assert '"description": "anti-vibration gloves"' in payload and '"worker": "W1"' in payload
    refused = client.get(f"{API}/restock")
    assert refused.status_code == 422 and "restockers" in refused.get_json()["error"]["message"]
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        from vending.models import Worker

        worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
        assert worker is not None
        worker.restocker = True
        ledger.post(s, slot_id=kiosk_world.slots["A2"], kind="issue", quantity=-2, key="x", at=worker_now())
    pick = client.get(f"{API}/restock").get_json()["pick_list"]
    assert pick == [{"slot": "A2", "name": "Drill bit 8 mm", "on_hand": 3, "max": 5, "to_pick": 2, "expired": 0}]
    saved = client.post(f"{API}/restock/A2", json={"counted": 2, "added": 3}, headers=headers).get_json()
    assert saved == {"slot": "A2", "expected": 3, "counted": 2, "flagged": True, "on_hand": 5}
    wrong = client.post(f"{API}/restock/A2", json={"scan": "ear-1", "request_key": "scan-1"}, headers=headers)
    said = "scanned SKU EAR-1 = Ear plugs; slot A2 holds Drill bit 8 mm: put it in slot A3"
    assert wrong.status_code == 400 and wrong.get_json()["error"] == {"code": "wrong_item", "message": said,
                                                                      "field": "scan"}  # fmt: skip
    full = client.post(f"{API}/restock/A2", json={"scan": "DRL-8", "added": 1}, headers=headers)  # the right item
    assert full.status_code == 400 and "holds at most 5; it has 5" in full.get_json()["error"]["message"]


def test_expired_stock_is_refused_at_the_kiosk_and_takes_are_fefo(
    app: Flask, client: FlaskClient, kiosk_world: World
) -> None:
    """A3's remaining units all expired: not shown as stock, refused before anything moves, with what to do.
    A1 holds two lots: the dispense takes the earlier expiry and its ledger entry says so."""
    services = app.extensions["vendtrack"]
    today = services.clock.now().date()
    gone = today - timedelta(days=6)
    with unit_of_work(services.session_factory) as s:
        for code in ("A1", "A3"):
            ledger.post(s, slot_id=kiosk_world.slots[code], kind="adjust", quantity=-5, key=f"empty-{code}",
                        at=worker_now())  # fmt: skip
        ledger.post(s, slot_id=kiosk_world.slots["A3"], kind="restock", quantity=4, key="old-lot", at=worker_now(),
                    lot=LotRef("EP-OLD", gone))  # fmt: skip
        for key, lot, days in (("late", "GL-LATE", 90), ("soon", "GL-SOON", 5)):
            ledger.post(s, slot_id=kiosk_world.slots["A1"], kind="restock", quantity=2, key=key, at=worker_now(),
                        lot=LotRef(lot, today + timedelta(days=days)))  # fmt: skip
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    signed = client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).get_json()
    assert {i["slot"]: i["stock"] for i in signed["items"]} == {"A1": 4, "A2": 5, "A3": 0}
    refused = client.post(f"{API}/dispense", json={"slot": "A3", "request_key": "exp-1"}, headers=headers)
    body = refused.get_json()["dispense"]
    assert body["status"] == "refused"
    assert body["detail"] == f"the 4 in A3 expired on {gone:%Y-%m-%d}: ask the crib to replace them"
    started = client.post(f"{API}/dispense", json={"slot": "A1", "request_key": "fefo-1"}, headers=headers)
    done = _wait(client, started.get_json()["dispense"]["id"])
    assert (done["status"], done["taken"]) == ("completed", 1), done
    with services.session_factory() as s:
        stock = s.get(SlotStock, kiosk_world.slots["A3"])
        assert stock is not None and (stock.on_hand, stock.reserved) == (4, 0)  # nothing moved, nothing held
        taken = s.execute(
            select(SlotLot.lot, LedgerLot.quantity)
            .join(LedgerLot, LedgerLot.slot_lot_id == SlotLot.id)
            .join(LedgerEntry, LedgerEntry.id == LedgerLot.ledger_id)
            .where(LedgerEntry.dispense_id == done["id"])
        ).all()
        assert [tuple(row) for row in taken] == [("GL-SOON", -1)]


def worker_now() -> Any:
    from tests.vending.conftest import NOW

    return NOW


def test_serial_badge_reader_feeds_the_kiosk(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    import json
    import os
    import tty

    from vending.models import Machine
    from vending.readers import ReaderSet

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as s:
        machine = s.scalar(select(Machine).where(Machine.code == "L1"))
        assert machine is not None
        config = json.loads(machine.driver_config)
        config["badge_reader"] = {"port": os.ttyname(slave)}
        machine.driver_config = json.dumps(config)
    readers = ReaderSet(services)
    readers.refresh()
    try:
        reader = readers.readers["L1"][1]
        assert reader.opened.wait(5)
        os.write(master, b"\x0204A21B1C\x03")
        login(client, "crib", "granite-bicycle-3")
        _kiosk(client)
        badge = wait_until(lambda: client.get(f"{API}/poll").get_json()["badge"], what="the reader's badge")
        assert badge == "04A21B1C"
    finally:
        readers.stop()
        os.close(master)
        os.close(slave)


def test_every_vending_route_declares_access_and_the_kiosk_is_for_kiosk_devices(app: Flask) -> None:
    from core.access import access_of

    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("vending_"):
            continue
        declared = access_of(app.view_functions[rule.endpoint])
        assert declared is not None, rule.endpoint
        if rule.endpoint.startswith("vending_kiosk"):
            assert declared.roles == frozenset({Role.ADMIN, Role.RESTOCKER}), rule.endpoint
            assert declared.scopes == frozenset({TokenScope.DEVICE}), rule.endpoint


def test_a_reader_poll_crossing_a_sign_in_cannot_undo_it(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")  # a logged-in session is permanent: responses re-send it
    headers = _kiosk(client)
    polled = client.get(f"{API}/poll")
    assert polled.status_code == 200 and "Set-Cookie" not in polled.headers
    signed = client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers)
    assert signed.status_code == 200 and "Set-Cookie" in signed.headers
    late = client.get(f"{API}/poll")  # answered after the sign-in: leaves the signed-in cookie alone
    assert "Set-Cookie" not in late.headers
    assert client.get(f"{API}/state").get_json()["worker"]["code"] == "W1"


def test_a_quantity_is_a_whole_number_never_truncated(app: Flask, client: FlaskClient, kiosk_world: World) -> None:
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    assert client.post(f"{API}/badge", json={"badge": ";04A21B1C?"}, headers=headers).status_code == 200
    for raw in ("2.7", "1e20", '"2.7"', '"1e20"', "NaN", "1e400", "-1", "0", "[2]", "true", '"two"'):
        refused = client.post(f"{API}/dispense", data=f'{{"slot": "A1", "quantity": {raw}}}',
                              content_type="application/json", headers=headers)  # fmt: skip
        assert refused.status_code == 422, (raw, refused.get_json())
        error = refused.get_json()["error"]
        assert error["field"] == "quantity" and "quantity must be" in error["message"], raw
    with app.extensions["vendtrack"].session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Dispense)) == 0  # nothing was dispensed or reserved
        assert ledger.on_hand(s, kiosk_world.slots["A1"]) == 5


def test_the_status_lists_the_workers_own_tools_and_never_who_holds_the_others(
    app: Flask, client: FlaskClient, kiosk_world: World
) -> None:
    from vending import tools

    now = datetime.now(UTC)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        for serial in ("TW-1", "TW-2", "TW-3"):
            tools.add_tool(s, serial, kiosk_world.items["DRL-8"], kiosk_world.site_id)
        tools.checkout(s, "TW-1", kiosk_world.workers["W1"], now + timedelta(hours=4), now)
        tools.checkout(s, "TW-2", kiosk_world.workers["W2"], now + timedelta(hours=2), now)
    login(client, "crib", "granite-bicycle-3")
    headers = _kiosk(client)
    client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers)  # W1
    state = client.get(f"{API}/state").get_json()
    assert [t["serial"] for t in state["tools_out"]] == ["TW-1"] and state["tools_out"][0]["due_at"]
    assert state["tools_available"] == [{"serial": "TW-3", "name": "Drill bit 8 mm"}]
    assert [t["serial"] for t in state["tools_unavailable"]] == ["TW-2"]
    reason = state["tools_unavailable"][0]["reason"]
    assert reason.startswith("checked out, due back") and "W2" not in reason
