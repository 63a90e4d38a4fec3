"""Loading a site's tracking set-up from JSON: zones, gateways (with calibration), assets with tags, PAR rules.

Rows are upserted by their natural key (zone code, gateway id, asset tag, unit + type); each bad row is
reported with its section, index and field, and the good rows are still loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracking.floorplan import ZONE_KINDS
from tracking.models import ASSET_STATUSES, Asset, Gateway, ParRule, Tag, Zone
from tracking.services import format_polygon


@dataclass(frozen=True, slots=True)
class RowError:
    section: str
    index: int
    field: str
    message: str


@dataclass(slots=True)
class LoadReport:
    loaded: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


class _Bad(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def _text(row: dict[str, Any], name: str, default: str | None = None) -> str:
    value = row.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(name, f"{name} is required (a non-empty string)")
    return value.strip()


def _number(row: dict[str, Any], name: str, default: float | None = None) -> float:
    value = row.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(name, f"{name} must be a number")
    return float(value)


def _zone(session: Session, row: dict[str, Any]) -> None:
    code, kind = _text(row, "code"), _text(row, "kind", "room")
    if kind not in ZONE_KINDS:
        raise _Bad("kind", f"kind must be one of {', '.join(ZONE_KINDS)}")
    points = row.get("polygon")
    if not isinstance(points, list) or len(points) < 3:
        raise _Bad("polygon", "polygon must list at least three [x, y] points in metres")
    try:
        polygon = format_polygon([(float(x), float(y)) for x, y in points])
    except (TypeError, ValueError):
        raise _Bad("polygon", "each polygon point must be [x, y] numbers") from None
    zone = session.scalar(select(Zone).where(Zone.code == code)) or Zone(code=code)
    zone.name, zone.kind, zone.polygon = row.get("name") or code, kind, polygon
    zone.building, zone.floor, zone.unit = (
        str(row.get("building", "")),
        str(row.get("floor", "")),
        str(row.get("unit", "")),
    )
    zone.max_radius_m = _number(row, "max_radius_m") if row.get("max_radius_m") is not None else None
    session.add(zone)
    session.flush()


def _zone_id(session: Session, code: str, field_name: str) -> int:
    found = session.scalar(select(Zone.id).where(Zone.code == code))
    if found is None:
        raise _Bad(field_name, f"zone {code!r} does not exist: list it under zones first")
    return found


def _gateway(session: Session, row: dict[str, Any]) -> None:
    gateway_id = _text(row, "gateway_id")
    zone_id = _zone_id(session, _text(row, "zone"), "zone")
    gateway = session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id)) or Gateway(gateway_id=gateway_id)
    gateway.zone_id, gateway.x, gateway.y = zone_id, _number(row, "x"), _number(row, "y")
    gateway.offset_db = _number(row, "offset_db", 0.0)
    session.add(gateway)
    session.flush()


def _asset(session: Session, row: dict[str, Any]) -> None:
    asset_tag, status = _text(row, "asset_tag"), _text(row, "status", "clean")
    if status not in ASSET_STATUSES:
        raise _Bad("status", f"status must be one of {', '.join(ASSET_STATUSES)}")
    asset = session.scalar(select(Asset).where(Asset.asset_tag == asset_tag)) or Asset(
        asset_tag=asset_tag, status=status
    )
    asset.name, asset.asset_type = _text(row, "name"), _text(row, "type")
    asset.serial, asset.unit = str(row.get("serial", "")), str(row.get("unit", ""))
    if row.get("home_zone"):
        asset.home_zone_id = _zone_id(session, _text(row, "home_zone"), "home_zone")
    if row.get("tag_key"):
        key = _text(row, "tag_key")
        tag = session.scalar(select(Tag).where(Tag.tag_key == key)) or Tag(tag_key=key)
        session.add(tag)
        session.flush()
        owner = session.scalar(select(Asset.asset_tag).where(Asset.tag_id == tag.id))
        if owner is not None and owner != asset_tag:
            raise _Bad("tag_key", f"tag {key} is already on asset {owner}: detach it there first")
        asset.tag_id = tag.id
    session.add(asset)
    session.flush()


def _par(session: Session, row: dict[str, Any]) -> None:
    unit, asset_type = _text(row, "unit"), _text(row, "type")
    minimum = row.get("minimum")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
        raise _Bad("minimum", "minimum must be a whole number, 0 or more")
    rule = session.scalar(select(ParRule).where(ParRule.unit == unit, ParRule.asset_type == asset_type))
    rule = rule or ParRule(unit=unit, asset_type=asset_type)
    rule.minimum = minimum
    session.add(rule)
    session.flush()


SECTIONS = (("zones", _zone), ("gateways", _gateway), ("assets", _asset), ("par", _par))


def load_setup(session: Session, data: Any) -> LoadReport:
    """Upsert every section; a bad row is rolled back alone (savepoint) and reported."""
    report = LoadReport()
    if not isinstance(data, dict):
        report.errors.append(RowError("file", 0, "file", 'the file must be a JSON object: {"zones": [...], ...}'))
        return report
    for section, load in SECTIONS:
        rows = data.get(section, [])
        if not isinstance(rows, list):
            report.errors.append(RowError(section, 0, section, f"{section} must be a list"))
            continue
        for index, row in enumerate(rows):
            savepoint = session.begin_nested()
            try:
                if not isinstance(row, dict):
                    raise _Bad(section, "each row must be an object")
                load(session, row)
            except _Bad as exc:
                savepoint.rollback()
                report.errors.append(RowError(section, index, exc.field, str(exc)))
                continue
            savepoint.commit()
            report.loaded[section] = report.loaded.get(section, 0) + 1
    return report
