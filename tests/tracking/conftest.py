"""Tracking fixtures: a three-zone floor (two rooms and an exit), or two floors of one building, with gateways and
tagged assets; `mosquitto`, the real broker with a private topic prefix (tests/tracking/mosquitto.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from firmware_bridge.ble.encode import ibeacon_advert
from tests.tracking.mosquitto import Mosquitto, broker_up
from tracking.models import Asset, Gateway, ParRule, Tag, Zone
from tracking.services import format_polygon

UUID = "e2c56db5dffb48d2b060d0f5a71096e0"


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """The real broker with a topic prefix private to the test; what the test starts on it is stopped after it.
    Skips the test when no broker listens on 127.0.0.1:1883."""
    if not broker_up():
        pytest.skip("no MQTT broker on 127.0.0.1:1883 (start mosquitto)")
    found = Mosquitto()
    yield found
    found.close()


def tag_key(minor: int) -> str:
    return f"ib-{UUID}-1-{minor}"


def advert_hex(minor: int) -> str:
    return ibeacon_advert(UUID, 1, minor, -59).hex()


@dataclass(frozen=True)
class Floor:
    zone_ids: dict[str, int]
    asset_ids: dict[str, int]  # asset_tag -> id


def seed_floor(session: Session) -> Floor:
    zones = {
        "A": Zone(code="A", name="Room A", kind="room", polygon=format_polygon([(0, 0), (10, 0), (10, 8), (0, 8)])),
        "B": Zone(code="B", name="Room B", kind="room", polygon=format_polygon([(10, 0), (20, 0), (20, 8), (10, 8)])),
        "X": Zone(code="X", name="Exit", kind="exit", polygon=format_polygon([(20, 0), (24, 0), (24, 8), (20, 8)])),
    }
    session.add_all(zones.values())
    session.flush()
    for gw, zone, x in (("gw-a", "A", 5.0), ("gw-b", "B", 15.0), ("gw-x", "X", 22.0)):
        session.add(Gateway(gateway_id=gw, zone_id=zones[zone].id, x=x, y=4.0))
    assets = {}
    for minor, (name, kind, status) in enumerate(
        [
            ("Infusion pump 1", "infusion_pump", "clean"),
            ("Infusion pump 2", "infusion_pump", "clean"),
            ("Wheelchair 1", "wheelchair", "dirty"),
        ],
        start=1,
    ):
        tag = Tag(tag_key=tag_key(minor))
        session.add(tag)
        session.flush()
        asset = Asset(
            asset_tag=f"A-{minor}", name=name, asset_type=kind, unit="ICU", status=status, tag_id=tag.id,
            home_zone_id=zones["A"].id,
        )  # fmt: skip
        session.add(asset)
        session.flush()
        assets[asset.asset_tag] = asset.id
    session.add(ParRule(unit="ICU", asset_type="infusion_pump", minimum=2))
    session.commit()
    return Floor({code: z.id for code, z in zones.items()}, assets)


def seed_two_floors(session: Session) -> Floor:
    """Ward B, floors 1 and 2, whose rooms have the same coordinates (one above the other); located assets:
    Infusion pump 1 in Room 101 (floor 1), Infusion pump 2 in Room 204 and Wheelchair 1 in Room 201 (floor 2)."""
    left, right = [(0, 0), (10, 0), (10, 8), (0, 8)], [(10, 0), (20, 0), (20, 8), (10, 8)]
    zones = {
        code: Zone(code=code, name=f"Room {code}", kind="room", building="Ward B", floor=code[0],
                   polygon=format_polygon(points))
        for code, points in (("101", left), ("102", right), ("201", left), ("204", right))
    }  # fmt: skip
    session.add_all(zones.values())
    session.flush()
    for code, x in (("101", 5.0), ("102", 15.0), ("201", 5.0), ("204", 15.0)):
        session.add(Gateway(gateway_id=f"gw-{code}", zone_id=zones[code].id, x=x, y=4.0))
    assets = {}
    now = datetime.now(UTC)
    for minor, (name, kind, room) in enumerate(
        [("Infusion pump 1", "infusion_pump", "101"), ("Infusion pump 2", "infusion_pump", "204"),
         ("Wheelchair 1", "wheelchair", "201")],
        start=1,
    ):  # fmt: skip
        tag = Tag(tag_key=tag_key(minor), last_seen_at=now)
        session.add(tag)
        session.flush()
        asset = Asset(
            asset_tag=f"W-{minor}", name=name, asset_type=kind, unit="Ward B", status="clean", tag_id=tag.id,
            zone_id=zones[room].id, zone_since=now, confidence=0.9, home_zone_id=zones[room].id,
        )  # fmt: skip
        session.add(asset)
        session.flush()
        assets[asset.asset_tag] = asset.id
    session.commit()
    return Floor({code: z.id for code, z in zones.items()}, assets)
