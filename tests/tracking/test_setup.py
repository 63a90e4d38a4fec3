"""`vendtrack tracking load`: a site's zones, gateways, assets and PAR rules from JSON, bad rows reported alone."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from core import audit
from core.db import unit_of_work
from tracking.models import Asset, Gateway, ParRule, Tag, Zone
from tracking.setup import load_setup

SETUP = {
    "zones": [
        {"code": "ICU-1", "name": "ICU bay 1", "kind": "room", "polygon": [[0, 0], [8, 0], [8, 6], [0, 6]],
         "max_radius_m": 9, "building": "Main", "floor": "3", "unit": "ICU"},
        {"code": "BAD", "kind": "ballroom", "polygon": [[0, 0], [1, 0], [1, 1]]},
        {"code": "EXIT", "kind": "exit", "polygon": [[8, 0], [10, 0], [10, 6]]},
    ],
    "gateways": [
        {"gateway_id": "gw-icu-1", "zone": "ICU-1", "x": 4, "y": 3, "offset_db": 2.5},
        {"gateway_id": "gw-lost", "zone": "NOWHERE", "x": 0, "y": 0},
    ],
    "assets": [
        {"asset_tag": "P-1", "name": "Pump 1", "type": "infusion_pump", "unit": "ICU", "home_zone": "ICU-1",
         "tag_key": "ib-e2c56db5dffb48d2b060d0f5a71096e0-1-1"},
        {"asset_tag": "P-2", "name": "Pump 2", "type": "infusion_pump", "status": "broken"},
        {"asset_tag": "P-3", "name": "Pump 3", "type": "infusion_pump",
         "tag_key": "ib-e2c56db5dffb48d2b060d0f5a71096e0-1-1"},
    ],
    "par": [{"unit": "ICU", "type": "infusion_pump", "minimum": 2}, {"unit": "ICU", "type": "bed", "minimum": -1}],
}  # fmt: skip


def test_load_keeps_good_rows_and_names_each_bad_field(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(SETUP))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tracking", "load", str(path)])
    assert result.exit_code == 1
    assert "loaded 2 zones, 1 gateways, 1 assets, 1 par; 5 rows refused" in result.output
    for expected in ("zones[1].kind:", "gateways[1].zone: zone 'NOWHERE' does not exist", "assets[1].status:",
                     "assets[2].tag_key: tag ib-e2c56db5dffb48d2b060d0f5a71096e0-1-1 is already on asset P-1",
                     "par[1].minimum:"):  # fmt: skip
        assert expected in result.output
    again = runner.invoke(args=["tracking", "load", str(path)])  # upsert: nothing doubles
    assert "loaded 2 zones, 1 gateways, 1 assets, 1 par" in again.output
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        assert sorted(session.scalars(select(Zone.code))) == ["EXIT", "ICU-1"]
        gateway = session.scalar(select(Gateway))
        assert gateway is not None and gateway.offset_db == 2.5
        asset = session.scalar(select(Asset))
        tag = session.scalar(select(Tag))
        assert asset is not None and tag is not None and asset.tag_id == tag.id and asset.status == "clean"
        assert session.scalar(select(ParRule.minimum)) == 2


def test_load_checks_rows_like_the_setup_pages_and_audits_them(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    rows = {
        "zones": [
            {"code": "W 1", "kind": "ballroom", "polygon": [[0, 0], [1, 1]], "max_radius_m": 0},
            {"code": "W-2", "polygon": [[0, 0], [4, 0], [4, 4]]},
        ],
        "gateways": [{"gateway_id": "gw-w2", "zone": "W-2", "x": 2, "y": 1, "offset_db": 35}],
    }
    path.write_text(json.dumps(rows))
    result = app.test_cli_runner().invoke(args=["tracking", "load", str(path)])
    assert result.exit_code == 1
    assert "loaded 1 zones; 2 rows refused" in result.output
    for expected in ("zones[0].code:", "zones[0].kind:", "zones[0].polygon:", "zones[0].max_radius_m:",
                     "gateways[0].offset_db: offset_db 35 dB is out of range: use -20 to 20 dB"):  # fmt: skip
        assert expected in result.output
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        zone_id = session.scalar(select(Zone.id).where(Zone.code == "W-2"))
        [entry] = audit.history(session, "tracking_zone", zone_id)
        assert (entry.actor, entry.action, entry.after["polygon"]) == ("cli", "tracking.zone.create", "0,0 4,0 4,4")


def test_a_load_read_in_german_reports_each_bad_row_in_german(app: Flask) -> None:
    """The rows a person loads through a German request get German row errors; the CLI (no request) says English."""
    with app.test_request_context("/", headers={"Accept-Language": "de"}), unit_of_work(
        app.extensions["vendtrack"].session_factory
    ) as session:
        report = load_setup(session, SETUP, actor="test")
        german = {f"{e.section}[{e.index}].{e.field}": e.message for e in report.errors}
        not_an_object = load_setup(session, [], actor="test").errors[0].message
    assert not_an_object.startswith("die Datei muss ein JSON-Objekt sein")
    assert german["zones[1].kind"] == (
        "die Art 'ballroom' ist unbekannt: verwenden Sie eine von room, corridor, exit, soiled_utility"
    )
    assert german["gateways[1].zone"] == (
        "die Zone 'NOWHERE' existiert nicht: legen Sie sie zuerst an oder wählen Sie eine aus der Liste"
    )
    assert german["assets[2].tag_key"] == (
        "der Tag ib-e2c56db5dffb48d2b060d0f5a71096e0-1-1 ist bereits an Gerät P-1: lösen Sie ihn dort zuerst"
    )
    assert all(isinstance(message, str) for message in german.values())  # plain text: templates escape it
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        english = {f"{e.section}[{e.index}].{e.field}": e.message for e in load_setup(session, SETUP).errors}
    assert english["gateways[1].zone"] == "zone 'NOWHERE' does not exist: create it first or pick one from the list"
