"""Zones and gateways changed one at a time (setup pages and `tracking load`), each change audited.

Services take the session first and never commit. Deleting refuses while something still depends on the
zone or would be lost with it (its gateways, equipment located there, home zones, movement history).
The export in the load-file format is `tracking.setup.export_setup`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, NotFound
from tracking.models import Asset, Gateway, LocationInterval, Zone
from tracking.services import format_polygon, parse_polygon
from tracking.setup_input import GatewayInput, SetupInvalid, ZoneInput, inside


@dataclass(frozen=True, slots=True)
class GatewayRow:
    id: int
    gateway_id: str
    zone: str
    zone_id: int
    x: float
    y: float
    offset_db: float
    status: str
    last_heard_at: datetime | None


@dataclass(frozen=True, slots=True)
class ZoneRow:
    id: int
    code: str
    name: str
    building: str
    floor: str
    kind: str
    polygon: str
    max_radius_m: float | None
    unit: str
    gateways: tuple[GatewayRow, ...]
    located: int  # assets located in the zone now
    fod_limit_min: int | None = None


@dataclass(frozen=True, slots=True)
class FloorGroup:
    building: str
    floor: str
    zones: tuple[ZoneRow, ...]

    @property
    def label(self) -> str:
        return f"{self.building or 'No building'} · floor {self.floor or '—'}"


@dataclass(frozen=True, slots=True)
class Saved:
    id: int
    changed: bool  # False when the input equalled what was stored (nothing audited)
    warning: str = ""


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def _gateway_row(gateway: Gateway, zone_code: str) -> GatewayRow:
    return GatewayRow(
        id=gateway.id,
        gateway_id=gateway.gateway_id,
        zone=zone_code,
        zone_id=gateway.zone_id,
        x=gateway.x,
        y=gateway.y,
        offset_db=gateway.offset_db,
        status=gateway.status,
        last_heard_at=gateway.last_heard_at,
    )


def zone_rows(session: Session) -> list[ZoneRow]:
    codes: dict[int, str] = {zone_id: code for zone_id, code in session.execute(select(Zone.id, Zone.code))}
    by_zone: dict[int, list[GatewayRow]] = defaultdict(list)
    for gateway in session.scalars(select(Gateway)):
        by_zone[gateway.zone_id].append(_gateway_row(gateway, codes[gateway.zone_id]))
    counts = select(Asset.zone_id, func.count(Asset.id)).where(Asset.zone_id.is_not(None)).group_by(Asset.zone_id)
    located: dict[int | None, int] = {zone_id: count for zone_id, count in session.execute(counts)}
    rows = [
        ZoneRow(
            z.id,
            z.code,
            z.name,
            z.building,
            z.floor,
            z.kind,
            z.polygon,
            z.max_radius_m,
            z.unit,
            tuple(sorted(by_zone[z.id], key=lambda g: _natural(g.gateway_id))),
            int(located.get(z.id, 0)),
            z.fod_limit_min,
        )
        for z in session.scalars(select(Zone))
    ]
    rows.sort(key=lambda z: (z.building, _natural(z.floor), _natural(z.code)))
    return rows


def floor_groups(session: Session) -> list[FloorGroup]:
    """Zones (with their gateways) per building and floor, in natural order."""
    groups: dict[tuple[str, str], list[ZoneRow]] = {}
    for row in zone_rows(session):
        groups.setdefault((row.building, row.floor), []).append(row)
    return [FloorGroup(building, floor, tuple(rows)) for (building, floor), rows in groups.items()]


def map_data(session: Session) -> dict[str, list[dict[str, Any]]]:
    """What the floor map script draws: every zone with its building/floor, every gateway."""
    rows = zone_rows(session)
    zones = [
        {
            "code": z.code,
            "name": z.name,
            "kind": z.kind,
            "building": z.building,
            "floor": z.floor,
            "points": parse_polygon(z.polygon),
        }
        for z in rows
    ]
    gateways = [
        {"gateway_id": g.gateway_id, "zone": g.zone, "x": g.x, "y": g.y, "status": g.status, "offset_db": g.offset_db}
        for z in rows
        for g in z.gateways
    ]
    return {"zones": zones, "gateways": gateways}


def _zone(session: Session, zone_id: int) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise NotFound(
            lazy_gettext("zone %(zone_id)s does not exist: pick one from the setup page", zone_id=zone_id),
            field="zone_id",
        )
    return zone


def get_zone(session: Session, zone_id: int) -> ZoneRow:
    _zone(session, zone_id)
    return next(row for row in zone_rows(session) if row.id == zone_id)


def get_gateway(session: Session, gateway_pk: int) -> GatewayRow:
    gateway = session.get(Gateway, gateway_pk)
    if gateway is None:
        raise NotFound(
            lazy_gettext("gateway %(gateway_pk)s does not exist: pick one from the setup page", gateway_pk=gateway_pk),
            field="gateway",
        )
    return _gateway_row(gateway, _zone(session, gateway.zone_id).code)


def _zone_snapshot(zone: Zone) -> dict[str, Any]:
    return {
        "code": zone.code,
        "name": zone.name,
        "building": zone.building,
        "floor": zone.floor,
        "kind": zone.kind,
        "polygon": zone.polygon,
        "max_radius_m": zone.max_radius_m,
        "unit": zone.unit,
        "fod_limit_min": zone.fod_limit_min,
    }


def _gateway_snapshot(gateway: Gateway, zone_code: str) -> dict[str, Any]:
    return {
        "gateway_id": gateway.gateway_id,
        "zone": zone_code,
        "x": gateway.x,
        "y": gateway.y,
        "offset_db": gateway.offset_db,
    }


def _flush_unique(session: Session, field: str, message: str) -> None:
    """Flush in a savepoint so a concurrent duplicate becomes a field error, not a broken session."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise SetupInvalid({field: message}) from None


def _zone_dependents(session: Session, zone: Zone) -> dict[str, str]:
    """Why the zone cannot go (or change its code), by kind: each reason says what to do about it."""
    reasons: dict[str, str] = {}
    gateways = list(session.scalars(select(Gateway.gateway_id).where(Gateway.zone_id == zone.id)))
    if gateways:
        reasons["gateways"] = lazy_gettext("it still has %(count)s gateway(s) (%(gateways)s): move them to another "
                                           "zone or delete them first", count=len(gateways),
                                           gateways=", ".join(sorted(gateways)))  # fmt: skip
    located = list(session.scalars(select(Asset.asset_tag).where(Asset.zone_id == zone.id).order_by(Asset.asset_tag)))
    if located:
        reasons["located"] = lazy_gettext("%(count)s asset(s) are located there now (%(assets)s): once its gateways "
                                          "are gone they are seen elsewhere or become unknown within about a minute",
                                          count=len(located), assets=", ".join(located[:5]))  # fmt: skip
    homes = list(
        session.scalars(select(Asset.asset_tag).where(Asset.home_zone_id == zone.id).order_by(Asset.asset_tag))
    )
    if homes:
        reasons["homes"] = lazy_gettext("%(count)s asset(s) have it as home zone (%(assets)s): give them another "
                                        "home_zone with `vendtrack tracking load` first", count=len(homes),
                                        assets=", ".join(homes[:5]))  # fmt: skip
    history = session.scalar(select(func.count(LocationInterval.id)).where(LocationInterval.zone_id == zone.id))
    if history:
        reasons["history"] = lazy_gettext("it appears in %(count)s movement-history entries, which would lose where "
                                          "equipment has been: keep the zone (you can change its name and outline)",
                                          count=history)  # fmt: skip
    return reasons


def _apply_zone(zone: Zone, data: ZoneInput) -> None:
    zone.code, zone.name, zone.building, zone.floor = data.code, data.name, data.building, data.floor
    zone.kind, zone.polygon = data.kind, format_polygon(list(data.points))
    zone.max_radius_m, zone.unit, zone.fod_limit_min = data.max_radius_m, data.unit, data.fod_limit_min


def save_zone(
    session: Session, data: ZoneInput, actor: str, clock: Clock | None = None, zone_id: int | None = None
) -> Saved:
    """Create (zone_id None) or change a zone. Its code may change only while nothing has been located in it."""
    zone = Zone() if zone_id is None else _zone(session, zone_id)
    before = None if zone_id is None else _zone_snapshot(zone)
    taken = session.scalar(select(Zone).where(Zone.code == data.code, Zone.id != (zone_id or -1)))
    if taken is not None:
        raise SetupInvalid(
            {
                "code": lazy_gettext(
                    "code %(code)s is already used by zone %(name)s: choose another code or edit that zone",
                    code=data.code,
                    name=repr(taken.name),
                )
            }
        )
    if before is not None and before["code"] != data.code:
        blocking = [r for kind, r in _zone_dependents(session, zone).items() if kind != "gateways"]
        if blocking:
            raise SetupInvalid(
                {
                    "code": lazy_gettext(
                        "code %(code)s is the key of this zone's history and events and cannot change: %(blocking)s",
                        code=before["code"],
                        blocking=blocking[0],
                    )
                }
            )
    _apply_zone(zone, data)
    after = _zone_snapshot(zone)
    if after == before:
        return Saved(zone.id, False)
    session.add(zone)
    _flush_unique(session, "code", lazy_gettext("code %(code)s was just taken by someone else: choose another code",
                                                code=data.code))  # fmt: skip
    action = "tracking.zone.create" if before is None else "tracking.zone.update"
    audit.record(session, actor, action, "tracking_zone", zone.id, before=before, after=after, clock=clock)
    return Saved(zone.id, True)


def upsert_zone(session: Session, data: ZoneInput, actor: str, clock: Clock | None = None) -> Saved:
    """The load file's way: the zone code is the natural key."""
    zone_id = session.scalar(select(Zone.id).where(Zone.code == data.code))
    return save_zone(session, data, actor, clock, zone_id)


def delete_zone(session: Session, zone_id: int, actor: str, clock: Clock | None = None) -> str:
    zone = _zone(session, zone_id)
    reasons = _zone_dependents(session, zone)
    if reasons:
        raise Conflict(lazy_gettext("Zone %(code)s cannot be deleted: %(reasons)s.", code=zone.code,
                                    reasons="; ".join(str(r) for r in reasons.values())), field="zone")  # fmt: skip
    before = _zone_snapshot(zone)
    session.delete(zone)
    session.flush()
    audit.record(session, actor, "tracking.zone.delete", "tracking_zone", zone_id, before=before, clock=clock)
    return before["code"]


def _zone_by_code(session: Session, code: str) -> Zone:
    zone = session.scalar(select(Zone).where(Zone.code == code))
    if zone is None:
        raise SetupInvalid(
            {
                "zone": lazy_gettext(
                    "zone %(code)s does not exist: create it first or pick one from the list", code=repr(code)
                )
            }
        )
    return zone


def save_gateway(
    session: Session, data: GatewayInput, actor: str, clock: Clock | None = None, gateway_pk: int | None = None
) -> Saved:
    """Add (gateway_pk None), change or move a gateway; warns when x/y fall outside its zone's outline."""
    zone = _zone_by_code(session, data.zone)
    gateway = Gateway() if gateway_pk is None else session.get(Gateway, gateway_pk)
    if gateway is None:
        raise NotFound(
            lazy_gettext("gateway %(gateway_pk)s does not exist: pick one from the setup page", gateway_pk=gateway_pk),
            field="gateway",
        )
    before = None if gateway_pk is None else _gateway_snapshot(gateway, _zone(session, gateway.zone_id).code)
    taken = session.scalar(
        select(Zone.code)
        .join(Gateway, Gateway.zone_id == Zone.id)
        .where(Gateway.gateway_id == data.gateway_id, Gateway.id != (gateway_pk or -1))
    )
    if taken is not None:
        raise SetupInvalid(
            {
                "gateway_id": lazy_gettext(
                    "gateway %(gateway_id)s already exists (in zone %(taken)s): choose another id or edit that gateway",
                    gateway_id=data.gateway_id,
                    taken=taken,
                )
            }
        )
    gateway.gateway_id, gateway.zone_id = data.gateway_id, zone.id
    gateway.x, gateway.y, gateway.offset_db = data.x, data.y, data.offset_db
    warning = ""
    outline = parse_polygon(zone.polygon)
    if len(outline) >= 3 and not inside((data.x, data.y), outline):
        warning = lazy_gettext("%(gateway_id)s at (%(x)s, %(y)s) is outside zone %(zone)s's outline: check x and y",
                               gateway_id=data.gateway_id, x=format(data.x, "g"), y=format(data.y, "g"),
                               zone=zone.code)  # fmt: skip
    after = _gateway_snapshot(gateway, zone.code)
    if after == before:
        return Saved(gateway.id, False, warning)
    session.add(gateway)
    _flush_unique(session, "gateway_id", lazy_gettext("gateway %(gateway_id)s was just added by someone else",
                                                      gateway_id=data.gateway_id))  # fmt: skip
    action = "tracking.gateway.create" if before is None else "tracking.gateway.update"
    audit.record(session, actor, action, "tracking_gateway", gateway.id, before=before, after=after, clock=clock)
    return Saved(gateway.id, True, warning)


def upsert_gateway(session: Session, data: GatewayInput, actor: str, clock: Clock | None = None) -> Saved:
    gateway_pk = session.scalar(select(Gateway.id).where(Gateway.gateway_id == data.gateway_id))
    return save_gateway(session, data, actor, clock, gateway_pk)


def delete_gateway(session: Session, gateway_pk: int, actor: str, clock: Clock | None = None) -> GatewayRow:
    row = get_gateway(session, gateway_pk)
    gateway = session.get(Gateway, gateway_pk)
    session.delete(gateway)
    session.flush()
    before = {"gateway_id": row.gateway_id, "zone": row.zone, "x": row.x, "y": row.y, "offset_db": row.offset_db}
    audit.record(session, actor, "tracking.gateway.delete", "tracking_gateway", gateway_pk, before=before, clock=clock)
    return row
