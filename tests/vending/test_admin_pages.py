"""Admin and report pages: every page renders for its roles, forms save, errors name the field."""

from __future__ import annotations

import html
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import World, seed_world


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> tuple[FlaskClient, World, str]:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        create_user(s, "boss", "velvet-compass-9", [Role.ADMIN])
    login(client, "boss", "velvet-compass-9")
    page = client.get("/vending/machines").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return client, world, token.group(1)


PAGES = [
    "/vending/",
    "/vending/machines",
    "/vending/machines/1",
    "/vending/workers",
    "/vending/unknown-badges",
    "/vending/rules",
    "/vending/charge-codes",
    "/vending/tools",
    "/vending/reports/usage?by=worker",
    "/vending/reports/outliers",
    "/vending/ledger",
    "/vending/csv",
    "/vending/restock/1",
]


def test_every_page_renders(admin: tuple[FlaskClient, World, str]) -> None:
    client, _, _ = admin
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path


def test_machine_config_is_validated_on_save(admin: tuple[FlaskClient, World, str]) -> None:
    client, _, token = admin
    bad = client.post(
        "/vending/machines",
        data={
            "code": "C9",
            "kind": "coil_machine",
            "csrf_token": token,
            "driver_config": '{"driver": "coil", "device": {"baud": 9600}}',
        },
    )
    assert bad.status_code == 422
    assert "driver configuration" in bad.get_data(as_text=True) and "port" in bad.get_data(as_text=True)
    good = client.post(
        "/vending/machines",
        data={
            "code": "C9",
            "kind": "coil_machine",
            "csrf_token": token,
            "driver_config": '{"driver": "coil", "device": {"port": "/dev/x"}}',
        },
    )
    assert good.status_code == 302


def test_forms_save(admin: tuple[FlaskClient, World, str]) -> None:
    client, _, token = admin
    steps = [
        (
            "/vending/workers",
            {"worker_code": "W50", "name": "Fifty", "pin": "2468", "groups": "night", "badges": "12:3456"},
        ),
        ("/vending/workers/1/badges", {"badge": "0A0B0C0D"}),
        ("/vending/rules", {"name": "Ear plugs per day", "quantity": "4", "window": "day", "sku": "EAR-1"}),
        ("/vending/restrictions", {"sku": "DRL-8", "group": "fitters"}),
        ("/vending/charge-policy", {"job": "required", "work_order": "off", "cost_center": "in_list"}),
        ("/vending/charge-codes", {"kind": "cost_center", "code": "CC-1", "name": "Line 1"}),
        ("/vending/tools", {"serial": "TW-5", "sku": "DRL-8", "calibration_due": "2027-01-01"}),
        (
            "/vending/machines/1/slots",
            {"slot": "A4", "sku": "EAR-1", "capacity": "6", "min_level": "1", "max_level": "6"},
        ),
        ("/vending/restock/1", {"slot": "A4", "counted": "0", "added": "6"}),
        ("/vending/slots/2/disable", {"reason": "spring broken"}),
        ("/vending/slots/2/clear", {}),
    ]
    for path, form in steps:
        response = client.post(path, data={**form, "csrf_token": token})
        assert response.status_code == 302, (path, response.get_data(as_text=True)[:500])
    assert "W50" in client.get("/vending/workers").get_data(as_text=True)
    assert "Ear plugs per day" in client.get("/vending/rules").get_data(as_text=True)
    assert "CC-1" in client.get("/vending/charge-codes").get_data(as_text=True)
    bad_rule = client.post(
        "/vending/rules", data={"name": "x", "quantity": "1", "window": "fortnight", "csrf_token": token}
    )
    assert bad_rule.status_code == 422 and "window must be one of" in bad_rule.get_data(as_text=True)


def test_csv_upload_and_usage_csv(admin: tuple[FlaskClient, World, str]) -> None:
    client, _, token = admin
    text = "sku,name,category\nZ-1,Zip ties,general\n,broken,x\n"
    page = client.post(
        "/vending/csv",
        data={"kind": "items", "csrf_token": token, "file": (io.BytesIO(text.encode()), "items.csv")},
        content_type="multipart/form-data",
    )
    body = page.get_data(as_text=True)
    assert "1 row imported, 1 rejected" in body and "line 3: sku is empty" in body
    assert "Z-1" in client.get("/vending/csv/items.csv").get_data(as_text=True)
    usage = client.get("/vending/reports/usage?by=item&format=csv")
    assert usage.mimetype == "text/csv" and usage.get_data(as_text=True).startswith("SKU,Item,Quantity,Value")


def test_stored_kinds_and_slot_states_show_as_translated_labels(admin: tuple[FlaskClient, World, str]) -> None:
    """A machine's kind, a slot's state and a ledger kind are stored as codes and shown as labels in the page's
    language, never as the raw code ("locker_bank", "ok")."""
    client, world, _ = admin
    english = client.get("/vending/machines").get_data(as_text=True)
    assert "locker_bank</td>" not in english and ">yes<" in english
    kinds = re.findall(r'<option value="(\w+)">([^<]+)</option>', english)
    assert ("locker_bank", "Locker bank") in kinds, kinds
    client.set_cookie("vendtrack_lang", "de")
    german = client.get("/vending/machines").get_data(as_text=True)
    assert "Schließfachanlage" in german and ">ja<" in german
    machine = client.get(f"/vending/machines/{world.machine_id}").get_data(as_text=True)
    assert "In Betrieb" in machine and "<td>ok" not in machine
    charge_modes = client.get("/vending/charge-codes").get_data(as_text=True)
    assert re.search(r'<option value="required"[^>]*>Pflicht</option>', charge_modes), charge_modes


def test_a_slot_moves_only_as_its_table_allows(admin: tuple[FlaskClient, World, str]) -> None:
    """Clearing a slot that is in service is refused with the allowed moves named (vending.slot_states.SLOT); a
    disabled slot shows its reason and comes back by clearing; the audit log keeps the state it left."""
    client, world, token = admin
    refused = client.post("/vending/slots/2/clear", data={"csrf_token": token})
    assert refused.status_code == 409, refused.get_data(as_text=True)[:300]
    assert "cannot go from ok to ok" in refused.get_data(as_text=True)
    client.post("/vending/slots/2/disable", data={"reason": "spring broken", "csrf_token": token})
    page = client.get(f"/vending/machines/{world.machine_id}").get_data(as_text=True)
    assert "Disabled: spring broken" in page
    again = client.post("/vending/slots/2/disable", data={"reason": "twice", "csrf_token": token})
    assert again.status_code == 409
    assert "spring broken" in client.get(f"/vending/machines/{world.machine_id}").get_data(as_text=True)
    assert client.post("/vending/slots/2/clear", data={"csrf_token": token}).status_code == 302
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "vending.slot.clear" in audit and "disabled" in audit
    client.post("/vending/slots/2/disable", data={"reason": "", "csrf_token": token})  # no reason typed: the code's
    assert "Disabled: disabled by " in client.get(f"/vending/machines/{world.machine_id}").get_data(as_text=True)
    client.set_cookie("vendtrack_lang", "de")
    german = client.get(f"/vending/machines/{world.machine_id}").get_data(as_text=True)
    assert ": deaktiviert von " in german and "disabled by" not in german
    twice = client.post("/vending/slots/2/disable", data={"reason": "x", "csrf_token": token})  # the refusal names
    refusal = html.unescape(twice.get_data(as_text=True))  # the slot with a German noun
    assert twice.status_code == 409 and "Fach A2 kann nicht von „Gesperrt“" in refusal and "slot A2" not in refusal
    client.delete_cookie("vendtrack_lang")


def test_german_csv_row_errors_and_form_problems(admin: tuple[FlaskClient, World, str]) -> None:
    client, _, token = admin
    client.set_cookie("vendtrack_lang", "de")
    text = "sku,name,category\nZ-1,Zip ties,general\nZ-2,Bolts,general\n,broken,x\n"
    page = client.post(
        "/vending/csv",
        data={"kind": "items", "csrf_token": token, "file": (io.BytesIO(text.encode()), "items.csv")},
        content_type="multipart/form-data",
    )
    body = page.get_data(as_text=True)
    assert "Artikel: 2 Zeilen importiert, 1 abgelehnt." in body  # the kind by its label
    assert "Zeile 4: sku ist leer: das Feld ist erforderlich, z. B. BOLT-M8" in body
    refused = client.post("/vending/rules", data={"name": "Gloves", "quantity": "2.7", "csrf_token": token})
    assert refused.status_code == 422
    assert "quantity muss eine ganze Zahl von 0 bis" in refused.get_data(as_text=True)
