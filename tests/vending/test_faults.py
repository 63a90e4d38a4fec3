"""A hardware fault reads in the reader's language: the slot's flag on the machine page and the kiosk's failure text
(vending.faults); the hardware's own detail stays as the device wrote it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import notes
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from firmware_bridge.modbus.counting import CountRefusal
from firmware_bridge.protocols import VendStatus
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import login
from tests.support import wait_until
from tests.vending.conftest import World, kerong_config, seed_world
from vending import faults
from vending.models import Machine, Slot, Worker
from vending.runtime import runtime

API = "/api/v1/vending/kiosk/L1"


def test_every_fault_code_has_a_label_and_reads_back() -> None:
    codes = {s.value for s in VendStatus if s is not VendStatus.SUCCESS} | {f"weight_{r.value}" for r in CountRefusal}
    assert codes - set(faults.LABELS) == set(), "a firmware fault with no label"
    for code in faults.LABELS:
        assert faults.code_of(faults.reason(code, "selection 3: jammed")) == code
        assert faults.code_of(faults.reason(code)) == code
    assert faults.code_of(faults.NOT_SENT) == "interrupted"
    assert faults.code_of("door_not_opened: the door did not open (timeout)") == "door_not_opened"  # an older row
    assert faults.code_of(faults.reason("smoke_seen", "rear panel")) == "smoke_seen"  # a code with no label yet


def test_a_reason_reads_in_english_with_the_devices_detail() -> None:
    stored = faults.reason("jammed", "selection 3: jammed motor 2")
    assert notes.english(stored) == "Jammed: selection 3: jammed motor 2"
    assert notes.english(faults.reason("door_left_open")) == "Door left open"


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    services = app.extensions["vendtrack"]
    world = seed_world(services.session_factory, kerong_config(lockboard.url))
    with unit_of_work(services.session_factory) as s:
        create_user(s, "crib", "granite-bicycle-3", [Role.RESTOCKER])
        s.get_one(Machine, world.machine_id).language = "de"
        s.get_one(Worker, world.workers["W1"]).language = ""
    yield world
    runtime(services).runner.shutdown()
    runtime(services).pool.close_all()


def test_a_stuck_door_reads_in_german_at_the_kiosk_and_on_the_machine_page(
    app: Flask, client: FlaskClient, kiosk_world: World, lockboard: LockBoardSim
) -> None:
    lockboard.set_stuck(0, 1)  # A2's door will not open
    login(client, "crib", "granite-bicycle-3")
    html = client.get("/kiosk/L1").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token and '<html lang="de"' in html
    headers = {"X-CSRF-Token": token.group(1)}
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    started = client.post(f"{API}/dispense", json={"slot": "A2", "quantity": 1}, headers=headers).get_json()
    dispense_id = started["dispense"]["id"]

    def settled() -> dict[str, str] | None:
        found = client.get(f"{API}/dispense/{dispense_id}").get_json()["dispense"]
        return found if found["status"] in ("completed", "failed") else None

    failed = wait_until(settled, what="the stuck dispense to fail")
    assert failed["status"] == "failed"
    assert failed["detail"] == (
        "Die Tür hat sich nicht geöffnet. Es wurde nichts berechnet: versuchen Sie es erneut oder fragen Sie im Lager."
    )
    with app.extensions["vendtrack"].session_factory() as s:
        stored = s.get_one(Slot, kiosk_world.slots["A2"]).state_reason
    assert notes.english(stored).startswith("Door did not open: the door did not open")  # English for logs
    client.post(f"{API}/logout", json={}, headers=headers)
    client.set_cookie("vendtrack_lang", "de")
    page = client.get(f"/vending/machines/{kiosk_world.machine_id}").get_data(as_text=True)
    assert "Tür nicht geöffnet: the door did not open" in page
    assert "Door did not open" not in page
    overview = client.get("/vending/").get_data(as_text=True)  # the flagged slots, with state and reason
    assert "Tür nicht geöffnet: the door did not open" in overview and "<td>Verklemmt</td>" in overview


def test_a_detail_vending_wrote_is_translated_and_a_devices_is_kept() -> None:
    """The restart's own detail is a note (translated when shown); a device's detail is text, even one in braces."""
    lost = notes.read(faults.reason("interrupted", faults.INTERRUPTED.encode()))[0].value("detail")
    assert lost == faults.INTERRUPTED
    assert notes.english(faults.reason("jammed", '{"motor": 2}')) == 'Jammed: {"motor": 2}'
