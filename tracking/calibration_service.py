"""Calibration services: reference tags and geometry from the database, offset suggestions, audited apply, accuracy.

Services take the session first and never commit. Offsets are suggested from observations (a recording or a
live capture) by `tracking.calibration`; an admin applies them one gateway at a time, audited like any other
gateway edit. Measured room accuracy is read from the reference tags' stored location intervals, so every
process (web or worker) computes the same figure: nothing is kept in one process's memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import NotFound
from core.models import Site
from tracking import calibration
from tracking.calibration import REFERENCE_TAG, Accuracy, Point
from tracking.models import Asset, Gateway, LocationInterval, Tag, Zone
from tracking.observation import Observation
from tracking.services import parse_polygon
from tracking.setup_input import inside

NO_SITE = ""  # the site code reported for reference tags whose home zone belongs to no site


@dataclass(frozen=True, slots=True)
class ReferenceTag:
    asset_id: int
    tag_key: str
    zone: str
    site: str


@dataclass(frozen=True, slots=True)
class Geometry:
    centres: dict[str, Point]  # zone code -> centre of its outline
    outlines: dict[str, tuple[Point, ...]]  # zone code -> outline, corridors left out (they have no walls)
    gateways: dict[str, Point]

    def walls_between(self, a: Point, b: Point) -> int:
        """The simulator's rule: each non-corridor zone holding exactly one of the two points costs one wall."""
        return sum(1 for outline in self.outlines.values() if inside(a, outline) != inside(b, outline))


@dataclass(frozen=True, slots=True)
class OffsetSuggestion:
    gateway_id: str
    current_offset_db: float
    suggested_offset_db: float
    tags: int
    samples: int
    residual_db: float


@dataclass(frozen=True, slots=True)
class SiteAccuracy:
    site: str
    reference_tags: int
    heard_tags: int  # reference tags with a decision in the window
    accuracy: Accuracy


def reference_tags(session: Session) -> list[ReferenceTag]:
    rows = session.execute(
        select(Asset.id, Tag.tag_key, Zone.code, Site.code)
        .join(Tag, Asset.tag_id == Tag.id)
        .join(Zone, Asset.home_zone_id == Zone.id)
        .outerjoin(Site, Zone.site_id == Site.id)
        .where(Asset.asset_type == REFERENCE_TAG)
        .order_by(Asset.id)
    )
    return [ReferenceTag(asset_id, key, zone, site or NO_SITE) for asset_id, key, zone, site in rows]


def geometry(session: Session) -> Geometry:
    centres: dict[str, Point] = {}
    outlines: dict[str, tuple[Point, ...]] = {}
    for zone in session.scalars(select(Zone)):
        outline = parse_polygon(zone.polygon)
        if len(outline) < 3:
            continue
        centres[zone.code] = (sum(x for x, _ in outline) / len(outline), sum(y for _, y in outline) / len(outline))
        if zone.kind != "corridor":
            outlines[zone.code] = outline
    gateways = {g.gateway_id: (g.x, g.y) for g in session.scalars(select(Gateway))}
    return Geometry(centres, outlines, gateways)


def suggest_offsets(session: Session, observations: Iterable[Observation]) -> list[OffsetSuggestion]:
    """Per gateway, the offset the reference tags' adverts call for, beside the one in force."""
    refs = reference_tags(session)
    shape = geometry(session)
    positions = {r.tag_key: shape.centres[r.zone] for r in refs if r.zone in shape.centres}
    heard = calibration.medians(observations, positions)
    found = calibration.readings(heard, positions, shape.gateways, shape.walls_between)
    current = {key: offset for key, offset in session.execute(select(Gateway.gateway_id, Gateway.offset_db))}
    return [
        OffsetSuggestion(f.gateway_id, current.get(f.gateway_id, 0.0), f.suggested_offset_db, f.tags, f.samples,
                         f.residual_db)
        for f in calibration.fit_offsets(found)
    ]  # fmt: skip


def apply_offset(
    session: Session,
    gateway_id: str,
    offset_db: float,
    actor: str,
    clock: Clock | None = None,
    comment: str = "offset from reference-tag calibration",
) -> bool:
    """Set one gateway's calibration offset (audited); False when it already had that offset."""
    gateway = session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
    if gateway is None:
        raise NotFound(
            lazy_gettext(
                "gateway %(gateway_id)s is not registered: pick one from the setup page", gateway_id=repr(gateway_id)
            ),
            field="gateway_id",
        )
    offset_db = round(float(offset_db), 1)
    if gateway.offset_db == offset_db:
        return False
    before = {"gateway_id": gateway.gateway_id, "offset_db": gateway.offset_db}
    gateway.offset_db = offset_db
    after = {"gateway_id": gateway.gateway_id, "offset_db": offset_db}
    audit.record(
        session, actor, "tracking.gateway.calibrate", "tracking_gateway", gateway.id, before=before, after=after,
        comment=comment, clock=clock,
    )  # fmt: skip
    return True


def site_accuracy(session: Session, now: datetime, window_s: float, site: str | None = None) -> list[SiteAccuracy]:
    """Per site, the reference tags' decided rooms over the last `window_s` scored against their fixed rooms."""
    refs = [r for r in reference_tags(session) if site is None or r.site == site]
    start = now - timedelta(seconds=window_s)
    by_asset: dict[int, list[tuple[str | None, float, float | None]]] = {r.asset_id: [] for r in refs}
    if refs:
        rows = session.execute(
            select(LocationInterval.asset_id, Zone.code, LocationInterval.started_at, LocationInterval.ended_at)
            .outerjoin(Zone, LocationInterval.zone_id == Zone.id)
            .where(
                LocationInterval.asset_id.in_(by_asset),
                LocationInterval.started_at < now,
                or_(LocationInterval.ended_at.is_(None), LocationInterval.ended_at > start),
            )
        )
        for asset_id, zone, started, ended in rows:
            by_asset[asset_id].append((zone, started.timestamp(), None if ended is None else ended.timestamp()))
    sites: dict[str, list[Accuracy]] = {}
    for ref in refs:
        scored = calibration.score_intervals(by_asset[ref.asset_id], ref.zone, start.timestamp(), now.timestamp())
        sites.setdefault(ref.site, []).append(scored)
    return [
        SiteAccuracy(code, len(scores), sum(1 for s in scores if s.total_s > 0), sum(scores, Accuracy()))
        for code, scores in sorted(sites.items())
    ]
