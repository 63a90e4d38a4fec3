"""Read and change services behind the locate pages and the JSON API; ORM rows never leave this module."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from core import audit
from core.clock import Clock, SystemClock, utc
from core.errors import Conflict, DomainError, NotFound
from tracking import alerts, locate_events
from tracking.labels import TypeLabels
from tracking.models import Asset, AssetType, Gateway, LocationInterval, Tag, Zone
from tracking.states import ASSET_STATUS, AssetStatus


@dataclass(frozen=True, slots=True)
class AssetLocation:
    id: int
    asset_tag: str
    name: str
    asset_type: str
    type_label: str  # "Infusion pump"
    serial: str
    unit: str
    status: AssetStatus
    tag_key: str | None
    zone: str | None  # None = unknown
    zone_name: str
    building: str | None  # the zone's building and floor; None when the location is unknown
    floor: str | None
    confidence: float
    since: datetime | None
    last_seen: datetime | None
    reason: str
    battery_mv: int | None
    last_zone_name: str = ""  # when the room is unknown: the last room it was in ("" if never located)

    def quiet_for_s(self, now: datetime) -> int | None:
        """Seconds since the tag was last heard (None: never heard)."""
        return max(0, int((now - utc(self.last_seen)).total_seconds())) if self.last_seen else None

    @property
    def floor_label(self) -> str:
        """Where the room is ('Ward B, floor 2'); empty when the location is unknown."""
        if self.building is None or self.floor is None:
            return ""
        return FloorRef(self.building, self.floor).label


@dataclass(frozen=True, slots=True)
class ZoneShape:
    code: str
    name: str
    kind: str
    points: tuple[tuple[float, float], ...]
    building: str = ""
    floor: str = ""

    @property
    def centre(self) -> tuple[float, float]:
        if not self.points:
            return (0.0, 0.0)
        return (sum(p[0] for p in self.points) / len(self.points), sum(p[1] for p in self.points) / len(self.points))


@dataclass(frozen=True, slots=True)
class FloorRef:
    """One floor of one building: what the locate map shows at a time."""

    building: str
    floor: str

    @property
    def label(self) -> str:
        """'Ward B, floor 2'; 'floor 2' without a building; the building alone without a floor."""
        if not self.floor:
            return self.building or gettext("no building or floor")
        if self.building:
            return gettext("%(building)s, floor %(floor)s", building=self.building, floor=self.floor)
        return gettext("floor %(floor)s", floor=self.floor)


@dataclass(frozen=True, slots=True)
class IntervalView:
    zone: str | None
    zone_name: str  # the room's name; "Unknown" when the location was unknown
    started_at: datetime
    ended_at: datetime | None
    confidence: float
    reason: str


def parse_polygon(text: str) -> tuple[tuple[float, float], ...]:
    points = []
    for pair in text.split():
        x, _, y = pair.partition(",")
        points.append((float(x), float(y)))
    return tuple(points)


def format_polygon(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def _last_room() -> ColumnElement[str]:
    """For an asset whose room is unknown, the name of the last room it was located in ("" if never, or located)."""
    interval, room = aliased(LocationInterval), aliased(Zone)
    last = (
        select(room.name)
        .select_from(interval)
        .join(room, interval.zone_id == room.id)
        .where(interval.asset_id == Asset.id)
        .order_by(interval.started_at.desc(), interval.id.desc())
        .limit(1)
        .correlate(Asset)
        .scalar_subquery()
    )
    return func.coalesce(case((Asset.zone_id.is_(None), last), else_=""), "")


# What an AssetLocation is made of, read as named columns in one statement: the lists are hot paths (the asset
# API pages through thousands), and plain rows cost a fraction of loading Asset, Tag and Zone objects.
LOCATION_COLUMNS = (
    Asset.id, Asset.asset_tag, Asset.name, Asset.asset_type, Asset.serial, Asset.unit, Asset.status, Tag.tag_key,
    Zone.code, Zone.name, Zone.building, Zone.floor, Asset.confidence, Asset.zone_since, Tag.last_seen_at,
    Asset.location_reason, Tag.battery_mv, _last_room().label("last_zone_name"),
)  # fmt: skip


def located(*more: Any) -> Select[*tuple[Any, ...]]:
    """SELECT the LOCATION_COLUMNS (then `more`) of assets with their tag and room (either may be missing)."""
    return (
        select(*LOCATION_COLUMNS, *more)
        .outerjoin(Tag, Asset.tag_id == Tag.id)
        .outerjoin(Zone, Asset.zone_id == Zone.id)
    )


def _locations(session: Session, where: list[object], limit: int = 200) -> list[AssetLocation]:
    query = located().where(*where).order_by(Asset.name, Asset.id).limit(limit)  # type: ignore[arg-type]
    types = TypeLabels.load(session)
    found = [location_view(row, types) for row in session.execute(query)]
    found.sort(key=lambda item: (_natural(item.name), item.id))  # "Pump 2" before "Pump 10"
    return found


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def location_view(row: Sequence[Any], types: TypeLabels) -> AssetLocation:
    """An AssetLocation from a row that starts with the LOCATION_COLUMNS."""
    (asset_id, asset_tag, name, asset_type, serial, unit, status, tag_key, zone, zone_name, building, floor,
     confidence, since, last_seen, reason, battery_mv, last_room) = row[:18]  # fmt: skip
    located_now = zone is not None
    return AssetLocation(
        id=asset_id,
        asset_tag=asset_tag,
        name=name,
        asset_type=asset_type,
        type_label=types.label(asset_type),
        serial=serial,
        unit=unit,
        status=AssetStatus(status),
        tag_key=tag_key,
        zone=zone,
        zone_name=zone_name if located_now else "unknown",
        building=building if located_now else None,
        floor=floor if located_now else None,
        confidence=round(confidence, 2) if located_now else 0.0,
        since=since,
        last_seen=last_seen,
        reason=reason,
        battery_mv=battery_mv,
        last_zone_name=last_room,
    )


def search_assets(session: Session, text: str = "", limit: int = 200) -> list[AssetLocation]:
    """Assets whose name, type, asset tag, serial or tag key contains `text` (case-insensitive)."""
    text = text.strip()
    return _locations(session, [text_match(text)] if text else [], limit)


def text_match(text: str) -> ColumnElement[bool]:
    """Name, type (code or label), asset tag, serial or tag key contains `text` (case-insensitive); the query
    must join Tag."""
    like = f"%{text.lower()}%"
    labelled = select(AssetType.code).where(func.lower(AssetType.label).like(like))
    return or_(
        func.lower(Asset.name).like(like),
        func.lower(Asset.asset_type).like(like),
        func.lower(Asset.asset_tag).like(like),
        func.lower(Asset.serial).like(like),
        func.lower(Tag.tag_key).like(like),
        Asset.asset_type.in_(labelled),
    )


def get_location(session: Session, asset_id: int) -> AssetLocation:
    found = _locations(session, [Asset.id == asset_id], 1) if 0 < asset_id <= 2**31 - 1 else []
    if not found:
        raise NotFound(
            lazy_gettext("asset %(asset_id)s does not exist: pick an id from /api/v1/assets", asset_id=asset_id),
            field="asset_id",
        )
    return found[0]


def find_by_tag(session: Session, asset_tag: str) -> AssetLocation:
    """The asset whose asset tag is `asset_tag` (exact, or differing in case only, as people type it)."""
    text = asset_tag.strip()
    found = _locations(session, [Asset.asset_tag == text], 1) if 0 < len(text) <= 64 else []
    if not found and 0 < len(text) <= 64:
        found = _locations(session, [func.lower(Asset.asset_tag) == text.lower()], 2)
        found = found if len(found) == 1 else []
    if not found:
        raise NotFound(lazy_gettext("no asset has the tag %(text)s: check the label, or search by name on the locate "
                                    "page", text=repr(text[:64])),
                       field="code")  # fmt: skip
    return found[0]


def zone_shapes(session: Session, on: FloorRef | None = None) -> list[ZoneShape]:
    """Every zone, or only those of floor `on`."""
    query = select(Zone).order_by(Zone.code)
    if on is not None:
        query = query.where(Zone.building == on.building, Zone.floor == on.floor)
    return [
        ZoneShape(z.code, z.name, z.kind, parse_polygon(z.polygon), z.building, z.floor) for z in session.scalars(query)
    ]


def floors(session: Session) -> list[FloorRef]:
    """The building floors that have zones, by building then floor in natural order ("2" before "10")."""
    found = session.execute(select(Zone.building, Zone.floor).distinct()).all()
    refs = [FloorRef(building, floor) for building, floor in found]
    refs.sort(key=lambda f: (_natural(f.building), _natural(f.floor)))
    return refs


def choose_floor(known: list[FloorRef], building: str | None, floor: str | None) -> FloorRef | None:
    """The floor named by `building`/`floor` (either may be left out when the other is enough), else the first.

    Returns None only when there are no zones at all. A building or floor that has no zones is refused
    with a DomainError naming the parameter and the floors there are.
    """
    if building is None and floor is None:
        return known[0] if known else None
    choices = "; ".join(f"building={f.building!r} floor={f.floor!r} ({f.label})" for f in known)
    choices = choices or lazy_gettext("none yet")
    if building is not None and not any(f.building == building for f in known):
        raise DomainError(
            lazy_gettext(
                "unknown building %(building)s: the floors with zones are %(choices)s",
                building=repr(building),
                choices=choices,
            ),
            field="building",
        )
    matches = [f for f in known if (building is None or f.building == building) and (floor is None or f.floor == floor)]
    if not matches:
        where = f" in building {building!r}" if building is not None else ""
        raise DomainError(
            lazy_gettext(
                "unknown floor %(floor)s%(where)s: the floors with zones are %(choices)s",
                floor=repr(floor),
                where=where,
                choices=choices,
            ),
            field="floor",
        )
    if building is None and len(matches) > 1:
        raise DomainError(
            lazy_gettext(
                "floor %(floor)s is in several buildings: add building=, one of %(choices)s",
                floor=repr(floor),
                choices=choices,
            ),
            field="building",
        )
    return matches[0]


def gateways(session: Session, on: FloorRef | None = None) -> list[dict[str, object]]:
    """Every gateway, or only those in zones of floor `on`."""
    query = select(Gateway, Zone.code).join(Zone, Gateway.zone_id == Zone.id).order_by(Gateway.gateway_id)
    if on is not None:
        query = query.where(Zone.building == on.building, Zone.floor == on.floor)
    rows = session.execute(query)
    return [
        {"gateway_id": g.gateway_id, "zone": code, "x": g.x, "y": g.y, "status": g.status, "offset_db": g.offset_db}
        for g, code in rows
    ]


def nearest_available(
    session: Session, asset_type: str, from_zone: str, limit: int = 5
) -> list[tuple[AssetLocation, float | None]]:
    """Clean (so not in use) assets of a type with a known room, nearest first by floor-plan distance.

    Floor-plan coordinates only compare on one floor: assets on the origin's floor come first, by distance;
    those on other floors follow (same building first) with no distance (None).
    """
    shapes = {z.code: z for z in zone_shapes(session)}
    if from_zone not in shapes:
        raise DomainError(
            lazy_gettext(
                "unknown room %(from_zone)s: choose one of %(shapes)s",
                from_zone=repr(from_zone),
                shapes=", ".join(sorted(shapes)),
            ),
            field="from_zone",
        )
    start = shapes[from_zone]
    candidates = _locations(
        session,
        [Asset.asset_type == asset_type, Asset.status == AssetStatus.CLEAN.value, Asset.zone_id.is_not(None)],
        1000,
    )
    ranked: list[tuple[tuple[object, ...], AssetLocation, float | None]] = []
    for item in candidates:
        other_building, other_floor = item.building != start.building, item.floor != start.floor
        distance: float | None = None
        if not (other_building or other_floor):
            shape = shapes.get(item.zone or "")
            distance = round(math.dist(start.centre, shape.centre), 1) if shape else 0.0
        where = (other_building, other_floor, _natural(item.building or ""), _natural(item.floor or ""))
        ranked.append(((*where, distance or 0.0, -item.confidence, item.name), item, distance))
    ranked.sort(key=lambda entry: entry[0])
    return [(item, distance) for _key, item, distance in ranked[:limit]]


def history(session: Session, asset_id: int, limit: int = 50) -> list[IntervalView]:
    get_location(session, asset_id)
    query = (
        select(LocationInterval, Zone.code, Zone.name)
        .outerjoin(Zone, LocationInterval.zone_id == Zone.id)
        .where(LocationInterval.asset_id == asset_id)
        .order_by(LocationInterval.started_at.desc(), LocationInterval.id.desc())
        .limit(limit)
    )
    return [
        IntervalView(code, name or "Unknown", i.started_at, i.ended_at, i.confidence, i.reason)
        for i, code, name in session.execute(query)
    ]


def utilisation(session: Session, asset_id: int, now: datetime, days: int = 7) -> float:
    """Share of the period spent in clinical rooms (kind `room`) other than the asset's home zone."""
    asset = session.get(Asset, asset_id) if 0 < asset_id <= 2**31 - 1 else None
    if asset is None:
        raise NotFound(lazy_gettext("asset %(asset_id)s does not exist", asset_id=asset_id), field="asset_id")
    start = now - timedelta(days=days)
    kinds = dict(session.execute(select(Zone.id, Zone.kind)).all())
    used = 0.0
    intervals = session.scalars(
        select(LocationInterval).where(
            LocationInterval.asset_id == asset_id,
            or_(LocationInterval.ended_at.is_(None), LocationInterval.ended_at > start),
        )
    )
    for interval in intervals:
        if interval.zone_id is None or interval.zone_id == asset.home_zone_id or kinds.get(interval.zone_id) != "room":
            continue
        begin, end = max(utc(interval.started_at), start), utc(interval.ended_at) if interval.ended_at else now
        used += max(0.0, (end - begin).total_seconds())
    return round(used / (days * 86400.0), 4)


def open_alerts(session: Session, roles: frozenset[str], now: datetime, limit: int = 200) -> list[alerts.AlertView]:
    """The live alerts routed to one of `roles` (see tracking.alerts.list_alerts)."""
    return alerts.list_alerts(session, roles, now, "live", limit=limit)


def asset_types(session: Session) -> list[tuple[str, str]]:
    """(code, label) of every asset type in use, by label."""
    types = TypeLabels.load(session)
    codes = session.scalars(select(Asset.asset_type).distinct())
    return sorted(((c, types.label(c)) for c in codes), key=lambda pair: pair[1].lower())


def change_status(
    session: Session, asset_id: int, target: str, actor: str, clock: Clock | None = None
) -> AssetLocation:
    """Move an asset along tracking.states.ASSET_STATUS (clean → in use → dirty → clean, maintenance), audited."""
    asset = session.get(Asset, asset_id) if 0 < asset_id <= 2**31 - 1 else None
    if asset is None:
        raise NotFound(lazy_gettext("asset %(asset_id)s does not exist", asset_id=asset_id), field="asset_id")
    before = AssetStatus(asset.status)
    goal = AssetStatus(target)
    action = ASSET_STATUS.check(lazy_gettext("asset %(tag)s", tag=asset.asset_tag), before, goal)
    changed = session.execute(ASSET_STATUS.compare_and_set(Asset.status, Asset.id, goal), {"key": asset_id}).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise Conflict(
            lazy_gettext(
                "asset %(asset_tag)s was changed by someone else a moment ago: reload", asset_tag=asset.asset_tag
            ),
            field="status",
        )
    session.expire(asset)
    audit.record(
        session,
        actor,
        f"asset.{goal.value}",
        "tracking_asset",
        asset_id,
        before={"status": before.value},
        after={"status": goal.value, "action": action},
        clock=clock or SystemClock(),
    )
    locate_events.announce(session, "status", [asset_id], (clock or SystemClock()).now())
    session.flush()
    return get_location(session, asset_id)
