"""`vendtrack tracking load`: a site's zones, gateways, assets and PAR rules from JSON, bad rows reported alone."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from tracking.models import Asset, Gateway, ParRule, Tag, Zone

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
