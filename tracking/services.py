"""Read and change services behind the locate pages and the JSON API; ORM rows never leave this module."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock, SystemClock, utc
from core.errors import DomainError, InvalidTransition, NotFound
from tracking.models import Asset, Gateway, LocationInterval, ParRule, Tag, TrackingAlert, Zone
from tracking.recording import available_count

# The asset status machine: from -> allowed targets. Each transition is a service call and an endpoint.
TRANSITIONS: dict[str, frozenset[str]] = {
    "clean": frozenset({"in_use", "maintenance"}),
    "in_use": frozenset({"dirty"}),
    "dirty": frozenset({"clean", "maintenance"}),
    "maintenance": frozenset({"clean"}),
}


@dataclass(frozen=True, slots=True)
class AssetLocation:
    id: int
    asset_tag: str
    name: str
    asset_type: str
    serial: str
    unit: str
    status: str
    tag_key: str | None
    zone: str | None  # None = unknown
    zone_name: str
    confidence: float
    since: datetime | None
    last_seen: datetime | None
    reason: str
    battery_mv: int | None


@dataclass(frozen=True, slots=True)
class ZoneShape:
    code: str
    name: str
    kind: str
    points: tuple[tuple[float, float], ...]

    @property
    def centre(self) -> tuple[float, float]:
        if not self.points:
            return (0.0, 0.0)
        return (sum(p[0] for p in self.points) / len(self.points), sum(p[1] for p in self.points) / len(self.points))


@dataclass(frozen=True, slots=True)
class IntervalView:
    zone: str | None
    started_at: datetime
    ended_at: datetime | None
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class ParRow:
    unit: str
    asset_type: str
    minimum: int
    available: int
    total: int

    @property
    def short(self) -> bool:
        return self.available < self.minimum


@dataclass(frozen=True, slots=True)
class AlertView:
    kind: str
    subject: str
    message: str
    raised_at: datetime


def parse_polygon(text: str) -> tuple[tuple[float, float], ...]:
    points = []
    for pair in text.split():
        x, _, y = pair.partition(",")
        points.append((float(x), float(y)))
    return tuple(points)


def format_polygon(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def _locations(session: Session, where: list[object], limit: int = 200) -> list[AssetLocation]:
    query = (
        select(Asset, Tag, Zone)
        .outerjoin(Tag, Asset.tag_id == Tag.id)
        .outerjoin(Zone, Asset.zone_id == Zone.id)
        .where(*where)  # type: ignore[arg-type]
        .order_by(Asset.name, Asset.id)
        .limit(limit)
    )
    found = [_view(a, t, z) for a, t, z in session.execute(query)]
    found.sort(key=lambda item: (_natural(item.name), item.id))  # "Pump 2" before "Pump 10"
    return found


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def _view(asset: Asset, tag: Tag | None, zone: Zone | None) -> AssetLocation:
    return AssetLocation(
        id=asset.id,
        asset_tag=asset.asset_tag,
        name=asset.name,
        asset_type=asset.asset_type,
        serial=asset.serial,
        unit=asset.unit,
        status=asset.status,
        tag_key=tag.tag_key if tag else None,
        zone=zone.code if zone else None,
        zone_name=zone.name if zone else "unknown",
        confidence=round(asset.confidence, 2) if zone else 0.0,
        since=asset.zone_since,
        last_seen=tag.last_seen_at if tag else None,
        reason=asset.location_reason,
        battery_mv=tag.battery_mv if tag else None,
    )


def search_assets(session: Session, text: str = "", limit: int = 200) -> list[AssetLocation]:
    """Assets whose name, type, asset tag, serial or tag key contains `text` (case-insensitive)."""
    text = text.strip()
    if not text:
        return _locations(session, [], limit)
    like = f"%{text.lower()}%"
    from sqlalchemy import func

    match = or_(
        func.lower(Asset.name).like(like),
        func.lower(Asset.asset_type).like(like),
        func.lower(Asset.asset_tag).like(like),
        func.lower(Asset.serial).like(like),
        func.lower(Tag.tag_key).like(like),
    )
    return _locations(session, [match], limit)


def get_location(session: Session, asset_id: int) -> AssetLocation:
    found = _locations(session, [Asset.id == asset_id], 1)
    if not found:
        raise NotFound(f"asset {asset_id} does not exist: pick an id from /api/v1/assets", field="asset_id")
    return found[0]


def zone_shapes(session: Session) -> list[ZoneShape]:
    zones = session.scalars(select(Zone).order_by(Zone.code))
    return [ZoneShape(z.code, z.name, z.kind, parse_polygon(z.polygon)) for z in zones]


def gateways(session: Session) -> list[dict[str, object]]:
    rows = session.execute(
        select(Gateway, Zone.code).join(Zone, Gateway.zone_id == Zone.id).order_by(Gateway.gateway_id)
    )
    return [
        {"gateway_id": g.gateway_id, "zone": code, "x": g.x, "y": g.y, "status": g.status, "offset_db": g.offset_db}
        for g, code in rows
    ]


def nearest_available(
    session: Session, asset_type: str, from_zone: str, limit: int = 5
) -> list[tuple[AssetLocation, float]]:
    """Clean (so not in use) assets of a type with a known room, nearest first by floor-plan distance."""
    shapes = {z.code: z for z in zone_shapes(session)}
    if from_zone not in shapes:
        raise DomainError(f"unknown room {from_zone!r}: choose one of {', '.join(sorted(shapes))}", field="from_zone")
    origin = shapes[from_zone].centre
    candidates = _locations(
        session, [Asset.asset_type == asset_type, Asset.status == "clean", Asset.zone_id.is_not(None)], 1000
    )
    ranked = []
    for item in candidates:
        centre = shapes[item.zone].centre if item.zone in shapes else origin
        ranked.append((item, round(math.dist(origin, centre), 1)))
    ranked.sort(key=lambda pair: (pair[1], -pair[0].confidence, pair[0].name))
    return ranked[:limit]


def history(session: Session, asset_id: int, limit: int = 50) -> list[IntervalView]:
    get_location(session, asset_id)
    query = (
        select(LocationInterval, Zone.code)
        .outerjoin(Zone, LocationInterval.zone_id == Zone.id)
        .where(LocationInterval.asset_id == asset_id)
        .order_by(LocationInterval.started_at.desc(), LocationInterval.id.desc())
        .limit(limit)
    )
    return [IntervalView(code, i.started_at, i.ended_at, i.confidence, i.reason) for i, code in session.execute(query)]


def utilisation(session: Session, asset_id: int, now: datetime, days: int = 7) -> float:
    """Share of the period spent in clinical rooms (kind `room`) other than the asset's home zone."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"asset {asset_id} does not exist", field="asset_id")
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


def par_dashboard(session: Session) -> list[ParRow]:
    from sqlalchemy import func

    rows = []
    for rule in session.scalars(select(ParRule).order_by(ParRule.unit, ParRule.asset_type)):
        total = session.scalar(
            select(func.count(Asset.id)).where(Asset.unit == rule.unit, Asset.asset_type == rule.asset_type)
        )
        rows.append(
            ParRow(
                rule.unit,
                rule.asset_type,
                rule.minimum,
                available_count(session, rule.unit, rule.asset_type),
                int(total or 0),
            )
        )
    return rows


def open_alerts(session: Session, limit: int = 200) -> list[AlertView]:
    query = (
        select(TrackingAlert)
        .where(TrackingAlert.cleared_at.is_(None))
        .order_by(TrackingAlert.raised_at.desc())
        .limit(limit)
    )
    return [AlertView(a.kind, a.subject, a.message, a.raised_at) for a in session.scalars(query)]


def asset_types(session: Session) -> list[str]:
    return list(session.scalars(select(Asset.asset_type).distinct().order_by(Asset.asset_type)))


def change_status(
    session: Session, asset_id: int, target: str, actor: str, clock: Clock | None = None
) -> AssetLocation:
    """Move an asset along the status table (clean → in use → dirty → clean, maintenance), audited."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"asset {asset_id} does not exist", field="asset_id")
    allowed = TRANSITIONS.get(asset.status, frozenset())
    if target not in allowed:
        raise InvalidTransition(f"asset {asset.asset_tag}", asset.status, target, allowed)
    before = asset.status
    asset.status = target
    audit.record(
        session,
        actor,
        f"asset.{target}",
        "tracking_asset",
        asset.id,
        before={"status": before},
        after={"status": target},
        clock=clock or SystemClock(),
    )
    session.flush()
    return get_location(session, asset_id)
