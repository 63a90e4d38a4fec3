"""A site's tracking set-up as JSON, loaded and exported: zones, gateways (calibration), assets with tags, PAR rules.

Rows are upserted by their natural key (zone code, gateway id, asset tag, unit + type); each bad row is
reported with its section, index and field(s), and the good rows are still loaded. Zones and gateways go
through the same checks and audit entries as the setup pages (`tracking.setup_admin`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from tracking.models import ASSET_STATUSES, Asset, ParRule, Tag, Zone
from tracking.services import parse_polygon
from tracking.setup_admin import upsert_gateway, upsert_zone, zone_rows
from tracking.setup_input import SetupInvalid, gateway_input, zone_input


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
        raise _Bad(name, lazy_gettext("%(name)s is required (a non-empty string)", name=name))
    return value.strip()


def _zone_id(session: Session, code: str, field_name: str) -> int:
    found = session.scalar(select(Zone.id).where(Zone.code == code))
    if found is None:
        raise _Bad(field_name, lazy_gettext("zone %(code)s does not exist: list it under zones first", code=repr(code)))
    return found


def _zone(session: Session, row: dict[str, Any], actor: str, clock: Clock | None) -> None:
    upsert_zone(session, zone_input(row), actor, clock)


def _gateway(session: Session, row: dict[str, Any], actor: str, clock: Clock | None) -> None:
    upsert_gateway(session, gateway_input(row), actor, clock)


def _asset(session: Session, row: dict[str, Any], _actor: str, _clock: Clock | None) -> None:
    asset_tag, status = _text(row, "asset_tag"), _text(row, "status", "clean")
    if status not in ASSET_STATUSES:
        raise _Bad(
            "status", lazy_gettext("status must be one of %(asset_statuses)s", asset_statuses=", ".join(ASSET_STATUSES))
        )
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
            raise _Bad(
                "tag_key",
                lazy_gettext("tag %(key)s is already on asset %(owner)s: detach it there first", key=key, owner=owner),
            )
        asset.tag_id = tag.id
    session.add(asset)
    session.flush()


def _par(session: Session, row: dict[str, Any], _actor: str, _clock: Clock | None) -> None:
    unit, asset_type = _text(row, "unit"), _text(row, "type")
    minimum = row.get("minimum")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
        raise _Bad("minimum", lazy_gettext("minimum must be a whole number, 0 or more"))
    rule = session.scalar(select(ParRule).where(ParRule.unit == unit, ParRule.asset_type == asset_type))
    rule = rule or ParRule(unit=unit, asset_type=asset_type)
    rule.minimum = minimum
    session.add(rule)
    session.flush()


SECTIONS = (("zones", _zone), ("gateways", _gateway), ("assets", _asset), ("par", _par))


def load_setup(session: Session, data: Any, actor: str = "cli", clock: Clock | None = None) -> LoadReport:
    """Upsert every section; a bad row is rolled back alone (savepoint) and reported, one error per bad field."""
    report = LoadReport()
    if not isinstance(data, dict):
        report.errors.append(
            RowError("file", 0, "file", str(lazy_gettext('the file must be a JSON object: {"zones": [...], ...}')))
        )
        return report
    for section, load in SECTIONS:
        rows = data.get(section, [])
        if not isinstance(rows, list):
            report.errors.append(
                RowError(section, 0, section, str(lazy_gettext("%(section)s must be a list", section=section)))
            )
            continue
        for index, row in enumerate(rows):
            savepoint = session.begin_nested()
            try:
                if not isinstance(row, dict):
                    raise _Bad(section, lazy_gettext("each row must be an object"))
                load(session, row, actor, clock)
            except _Bad as exc:
                savepoint.rollback()
                report.errors.append(RowError(section, index, exc.field, str(exc)))
                continue
            except SetupInvalid as exc:
                savepoint.rollback()
                report.errors.extend(RowError(section, index, name, message) for name, message in exc.errors.items())
                continue
            savepoint.commit()
            report.loaded[section] = report.loaded.get(section, 0) + 1
    return report


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def export_setup(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The whole set-up in the format `vendtrack tracking load` reads, so a site can be backed up and reloaded."""
    rows = zone_rows(session)
    zones: list[dict[str, Any]] = []
    for z in rows:
        zone: dict[str, Any] = {
            "code": z.code,
            "name": z.name,
            "kind": z.kind,
            "building": z.building,
            "floor": z.floor,
            "unit": z.unit,
            "polygon": [[_plain(x), _plain(y)] for x, y in parse_polygon(z.polygon)],
        }
        if z.max_radius_m is not None:
            zone["max_radius_m"] = _plain(z.max_radius_m)
        zones.append(zone)
    gateways = [
        {
            "gateway_id": g.gateway_id,
            "zone": g.zone,
            "x": _plain(g.x),
            "y": _plain(g.y),
            "offset_db": _plain(g.offset_db),
        }
        for z in rows
        for g in z.gateways
    ]
    codes = {z.id: z.code for z in rows}
    assets = []
    query = select(Asset, Tag.tag_key).outerjoin(Tag, Asset.tag_id == Tag.id).order_by(Asset.asset_tag)
    for asset, tag_key in session.execute(query):
        row: dict[str, Any] = {
            "asset_tag": asset.asset_tag,
            "name": asset.name,
            "type": asset.asset_type,
            "serial": asset.serial,
            "unit": asset.unit,
            "status": asset.status,
        }
        if asset.home_zone_id is not None:
            row["home_zone"] = codes[asset.home_zone_id]
        if tag_key is not None:
            row["tag_key"] = tag_key
        assets.append(row)
    par = [
        {"unit": r.unit, "type": r.asset_type, "minimum": r.minimum}
        for r in session.scalars(select(ParRule).order_by(ParRule.unit, ParRule.asset_type))
    ]
    return {"zones": zones, "gateways": gateways, "assets": assets, "par": par}
