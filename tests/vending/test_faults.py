"""A hardware fault reads in the reader's language: the slot's flag on the machine page and the kiosk's failure text
(vending.faults); the hardware's own detail stays as the device wrote it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape as html_unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import notes
from core.db import unit_of_work
from core.notes import N_
from firmware_bridge.modbus.counting import CountRefusal
from firmware_bridge.protocols import VendStatus
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.conftest import login
from tests.support import read_in, wait_until
from tests.vending.conftest import World, running_kiosk
from vending import faults
from vending.devices import Sensed, said
from vending.models import LedgerEntry, Machine, Slot, Worker

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


def _prepare(s: Session, world: World) -> None:
    s.get_one(Machine, world.machine_id).language = "de"
    s.get_one(Worker, world.workers["W1"]).language = ""


@pytest.fixture
def kiosk_world(app: Flask, lockboard: LockBoardSim) -> Iterator[World]:
    with running_kiosk(app, lockboard, _prepare) as world:
        yield world


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
    assert "Tür nicht geöffnet: die Tür hat sich nicht geöffnet (" in page  # then the lock board's own words
    assert "Door did not open" not in page and "the door did not open" not in page
    overview = client.get("/vending/").get_data(as_text=True)  # the flagged slots, with state and reason
    assert "Tür nicht geöffnet: die Tür hat sich nicht geöffnet (" in overview and "<td>Verklemmt</td>" in overview


def test_a_detail_vending_wrote_is_translated_and_a_devices_is_kept() -> None:
    """The restart's own detail is a note (translated when shown); a device's detail is text, even one in braces."""
    lost = notes.read(faults.reason("interrupted", faults.INTERRUPTED.encode()))[0].value("detail")
    assert lost == faults.INTERRUPTED
    assert notes.english(faults.reason("jammed", '{"motor": 2}')) == 'Jammed: {"motor": 2}'


def _dispense(client: FlaskClient, slot: str) -> dict[str, str]:
    html = client.get("/kiosk/L1").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token
    headers = {"X-CSRF-Token": token.group(1)}
    assert client.post(f"{API}/badge", json={"badge": "04A21B1C"}, headers=headers).status_code == 200
    started = client.post(f"{API}/dispense", json={"slot": slot, "quantity": 1}, headers=headers).get_json()
    dispense_id = started["dispense"]["id"]

    def settled() -> dict[str, str] | None:
        found = client.get(f"{API}/dispense/{dispense_id}").get_json()["dispense"]
        return found if found["status"] in ("completed", "failed") else None

    done = wait_until(settled, what=f"the dispense from {slot} to settle")
    client.post(f"{API}/logout", json={}, headers=headers)
    return done


def test_a_driver_that_cannot_start_reads_in_german_on_the_machine_page_with_the_error_as_it_came(
    app: Flask, client: FlaskClient, kiosk_world: World
) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        machine = s.get_one(Machine, kiosk_world.machine_id)
        machine.driver_config = json.dumps({"driver": "kerong"})  # no device: the driver cannot be built
    login(client, "crib", "granite-bicycle-3")
    failed = _dispense(client, "A1")
    assert failed["status"] == "failed"
    with app.extensions["vendtrack"].session_factory() as s:
        stored = s.get_one(Slot, kiosk_world.slots["A1"]).state_reason
    english = notes.english(stored)
    assert english.startswith("Device offline: driver could not start: ") and "locker_bank.device" in english
    error = english.removeprefix("Device offline: driver could not start: ")
    client.set_cookie("vendtrack_lang", "de")
    page = html_unescape(client.get(f"/vending/machines/{kiosk_world.machine_id}").get_data(as_text=True))
    assert f"Gerät nicht erreichbar: Treiber konnte nicht starten: {error}" in page, error  # the error as it came
    assert "driver could not start" not in page


def test_what_a_door_said_about_a_dispense_reads_in_german_in_the_ledger(
    app: Flask, client: FlaskClient, kiosk_world: World, lockboard: LockBoardSim
) -> None:
    login(client, "crib", "granite-bicycle-3")
    done = _dispense(client, "A1")
    assert done["status"] == "completed"
    with app.extensions["vendtrack"].session_factory() as s:
        issued = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "issue")).one()
    assert notes.english(issued.reason) == "door opened and closed"
    client.set_cookie("vendtrack_lang", "de")
    page = client.get("/vending/ledger").get_data(as_text=True)
    assert "Tür geöffnet und geschlossen" in page and "door opened and closed" not in page


def test_every_sensed_detail_the_code_writes_is_a_note_with_the_device_text_as_a_value() -> None:
    stuck = Sensed(0, "door_not_opened", said(N_("the door did not open (%(device)s)"), device="no answer in 0.5 s"))
    with read_in("de"):
        shown = notes.shown(faults.reason(stuck.fault, stuck.detail))
    assert shown == "Tür nicht geöffnet: die Tür hat sich nicht geöffnet (no answer in 0.5 s)"
    with read_in("es"):
        assert notes.shown(said(N_("selection %(selection)s: %(count)s vended"), selection="12", count=1)) == (
            "selección 12: 1 dispensado(s)"
        )
