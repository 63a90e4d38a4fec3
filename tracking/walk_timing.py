"""Time to a room change, measured on guided walks: the engine's flush settles each mark, sites get median and p90.

The location engine runs in one process and the walk page in others, so everything here goes through the
database: the flush asks which tags are on an open walk (and records their adverts, `WalkSighting`), and
settles every pending mark from the room changes it just made and where the engine has the tag now. A mark is
`reached` with the seconds from the tap to the engine placing the tag in that room (0 when it was there
already), or `never` when that did not happen before the next tap or the deadline, whichever comes first.
Services take the session first and never commit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.models import Site
from tracking.engine import RoomChange
from tracking.models import Walk, WalkMark, WalkSighting, Zone
from tracking.observation import Observation
from tracking.recording import at_time
from tracking.states import MARK_OUTCOME, MarkOutcome, WalkStatus
from tracking.walk_fit import sample

DEADLINE_S = 60.0  # a mark the engine has not placed within this long is a "never" sample
WINDOW_S = 30 * 86400  # the published figure covers walks of the last 30 days
NO_SITE = ""  # the site code of rooms that belong to no site (as the reference-tag accuracy reports it)


@dataclass(frozen=True, slots=True)
class PendingMark:
    id: int
    tag_key: str
    zone: str
    at: float
    next_at: float | None  # the walk's next tap, if there is one yet


@dataclass(frozen=True, slots=True)
class SiteTiming:
    site: str
    samples: int  # settled marks in the window
    never: int  # of which the engine did not place the tag in time
    median_s: float | None  # None: no samples, or half or more were "never"
    p90_s: float | None  # None: no samples, or more than a tenth were "never"


def open_walk_tags(session: Session) -> dict[str, int]:
    """Tag key -> walk id of every open walk: the tags whose adverts the flush records."""
    rows = session.execute(select(Walk.tag_key, Walk.id).where(Walk.status == WalkStatus.OPEN.value))
    return {key: walk_id for key, walk_id in rows}


def record_sightings(session: Session, heard: Sequence[tuple[int, Observation]]) -> int:
    """Store the walk tags' adverts (walk id, observation) in one executemany."""
    rows = [
        {"walk_id": walk_id, "gateway_id": o.gateway_id, "rssi": o.rssi, "ref_power": o.ref_power, "at": at_time(o.at)}
        for walk_id, o in heard
        if o.rssi
    ]
    if rows:
        session.execute(insert(WalkSighting), rows)
    return len(rows)


def pending_marks(session: Session) -> list[PendingMark]:
    rows = session.execute(
        select(WalkMark.id, WalkMark.walk_id, WalkMark.marked_at, Walk.tag_key, Zone.code)
        .join(Walk, WalkMark.walk_id == Walk.id)
        .join(Zone, WalkMark.zone_id == Zone.id)
        .where(WalkMark.outcome == MarkOutcome.PENDING.value)
    ).all()
    if not rows:
        return []
    walks = {walk_id for _, walk_id, _, _, _ in rows}
    taps: dict[int, list[datetime]] = {}
    for walk_id, marked_at in session.execute(
        select(WalkMark.walk_id, WalkMark.marked_at).where(WalkMark.walk_id.in_(walks)).order_by(WalkMark.marked_at)
    ):
        taps.setdefault(walk_id, []).append(marked_at)
    found = []
    for mark_id, walk_id, marked_at, tag_key, zone in rows:
        later = [t for t in taps[walk_id] if t > marked_at]
        found.append(PendingMark(mark_id, tag_key, zone, marked_at.timestamp(),
                                 later[0].timestamp() if later else None))  # fmt: skip
    return found


def decide(
    mark: PendingMark,
    changes: Sequence[tuple[float, str | None]],
    placed: tuple[str | None, float],
    now: float,
    deadline_s: float = DEADLINE_S,
) -> tuple[MarkOutcome, float | None] | None:
    """The mark's sample from the engine's changes of the tag (time, room) and its current (room, since);
    None while it may still come."""
    end = min(math.inf if mark.next_at is None else mark.next_at, mark.at + deadline_s)
    hit = sample(mark.zone, mark.at, end, changes, there_at_tap=False)
    if hit is not None:
        return MarkOutcome.REACHED, round(hit, 1)
    zone, since = placed
    if zone == mark.zone and since < end:
        return MarkOutcome.REACHED, round(max(0.0, since - mark.at), 1)
    if now >= end:
        return MarkOutcome.NEVER, None
    return None


def settle_marks(
    session: Session,
    pending: Sequence[PendingMark],
    changes: Sequence[RoomChange],
    placed: Mapping[str, tuple[str | None, float]],
    now: float,
    deadline_s: float = DEADLINE_S,
) -> int:
    """Settle what can be settled now (compare-and-set from pending, so two flushes never settle one twice)."""
    settled = 0
    for mark in pending:
        moves = [(c.at, c.to_zone) for c in changes if c.tag_key == mark.tag_key]
        found = decide(mark, moves, placed.get(mark.tag_key, (None, 0.0)), now, deadline_s)
        if found is None:
            continue
        outcome, delay = found
        statement = MARK_OUTCOME.compare_and_set(WalkMark.outcome, WalkMark.id, outcome, delay_s=delay,
                                                 settled_at=at_time(now))  # fmt: skip
        settled += session.execute(statement, {"key": mark.id}).rowcount  # type: ignore[attr-defined]
    return settled


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile; None when there are none or it falls on a "never" (math.inf)."""
    if not values:
        return None
    ordered = sorted(values)
    found = ordered[max(0, math.ceil(share * len(ordered)) - 1)]
    return None if math.isinf(found) else round(found, 1)


def site_timing(
    session: Session, now: datetime, window_s: float = WINDOW_S, site: str | None = None
) -> list[SiteTiming]:
    """Per site of the marked room, the settled samples of marks made in the last `window_s`."""
    rows = session.execute(
        select(Site.code, WalkMark.outcome, WalkMark.delay_s)
        .join(Zone, WalkMark.zone_id == Zone.id)
        .outerjoin(Site, Zone.site_id == Site.id)
        .where(WalkMark.marked_at >= now - timedelta(seconds=window_s), WalkMark.outcome != MarkOutcome.PENDING.value)
    )
    by_site: dict[str, list[float]] = {}
    for code, outcome, delay in rows:
        value = math.inf if outcome == MarkOutcome.NEVER.value or delay is None else float(delay)
        by_site.setdefault(code or NO_SITE, []).append(value)
    return [
        SiteTiming(code, len(values), sum(1 for v in values if math.isinf(v)), percentile(values, 0.5),
                   percentile(values, 0.9))
        for code, values in sorted(by_site.items())
        if site is None or code == site
    ]  # fmt: skip
