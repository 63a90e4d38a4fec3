"""Guided calibration walks: start with a tag, "I am in room X", finish (fit and replay), apply (audited) or discard.

Every step is a row in the database (`Walk`, `WalkMark`; the location engine's flush adds `WalkSighting`), so
any web process can take the next tap and the engine, in its own process, follows the walk. Finishing fits the
offsets and radii (`tracking.walk_fit`) and replays the walk through the real engine with the settings in
force and with the fitted ones; the result is stored with the walk so applying writes exactly what was shown.
Services take the session first and never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock, SystemClock
from core.errors import Conflict, DomainError, Forbidden, NotFound
from tracking import calibration_service, walk_fit
from tracking.calibration import Accuracy
from tracking.engine import EngineConfig
from tracking.models import Asset, Tag, Walk, WalkMark, WalkSighting, Zone
from tracking.observation import Observation
from tracking.pipeline import load_floor
from tracking.states import WALK_STATUS, MarkOutcome, WalkStatus
from tracking.walk_timing import DEADLINE_S


@dataclass(frozen=True, slots=True)
class MarkView:
    id: int
    zone: str
    zone_name: str
    marked_at: datetime
    outcome: MarkOutcome
    delay_s: float | None


@dataclass(frozen=True, slots=True)
class WalkView:
    id: int
    tag_key: str
    tag_label: str  # the asset the tag is on, or the tag key
    status: WalkStatus
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    marks: tuple[MarkView, ...]
    sightings: int
    result: dict[str, Any] | None  # what finishing fitted (see `_result`)


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


def _walk(session: Session, walk_id: int) -> Walk:
    walk = session.get(Walk, walk_id)
    if walk is None:
        raise NotFound(
            lazy_gettext("there is no walk %(walk_id)s: start one from the guided walk page", walk_id=walk_id),
            field="walk_id",
        )
    return walk


def _own(walk: Walk, actor: str) -> None:
    if walk.started_by != actor:
        raise Forbidden(lazy_gettext("this walk was started by someone else: only the person carrying its tag can "
                                     "mark rooms on it or finish it; start a walk of your own"),
                        field="walk_id")  # fmt: skip


def _move(session: Session, walk: Walk, target: WalkStatus, **values: Any) -> None:
    """One compare-and-set from the states the table allows: a second process finishing first wins cleanly."""
    WALK_STATUS.check(lazy_gettext("walk %(id)s", id=walk.id), walk.status, target)
    statement = WALK_STATUS.compare_and_set(Walk.status, Walk.id, target, **values)
    if session.execute(statement, {"key": walk.id}).rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            lazy_gettext("walk %(id)s was changed at the same moment elsewhere: reload the page", id=walk.id),
            field="walk_id",
        )
    session.refresh(walk)


def start(session: Session, tag_key: str, actor: str, clock: Clock | None = None) -> int:
    """Open a walk carrying `tag_key`; refused when the tag is unknown or already on an open walk."""
    tag_key = tag_key.strip()
    if not tag_key or session.scalar(select(Tag.id).where(Tag.tag_key == tag_key)) is None:
        raise DomainError(lazy_gettext("unknown tag: pick one of the tags heard lately, or type a tag key the system "
                                       "has heard"),
                          field="tag_key", status=422)  # fmt: skip
    busy = session.scalar(select(Walk).where(Walk.tag_key == tag_key, Walk.status == WalkStatus.OPEN.value))
    if busy is not None:
        raise Conflict(
            lazy_gettext("this tag is already on an open walk: finish or discard that walk first"), field="tag_key"
        )
    walk = Walk(tag_key=tag_key, status=WalkStatus.OPEN.value, started_by=actor, started_at=_clock(clock).now())
    session.add(walk)
    session.flush()
    audit.record(session, actor, "tracking.walk.start", "tracking_walk", walk.id, after={"tag_key": tag_key},
                 clock=clock)  # fmt: skip
    return walk.id


def mark(session: Session, walk_id: int, zone_code: str, actor: str, clock: Clock | None = None) -> int:
    """ "I am in room X" now; a second tap on the room already marked last is kept as the first one."""
    walk = _walk(session, walk_id)
    _own(walk, actor)
    if walk.status != WalkStatus.OPEN.value:
        raise Conflict(
            lazy_gettext("this walk is finished: rooms can no longer be marked on it; start a new walk"), field="zone"
        )
    zone = session.scalar(select(Zone).where(Zone.code == zone_code.strip()))
    if zone is None:
        raise DomainError(
            lazy_gettext("unknown room %(zone_code)s: pick one of the rooms listed", zone_code=repr(zone_code[:32])),
            field="zone",
            status=422,
        )
    last = session.scalar(select(WalkMark).where(WalkMark.walk_id == walk.id).order_by(WalkMark.marked_at.desc()))
    if last is not None and last.zone_id == zone.id:
        return last.id
    found = WalkMark(walk_id=walk.id, zone_id=zone.id, marked_at=_clock(clock).now(),
                     outcome=MarkOutcome.PENDING.value)  # fmt: skip
    session.add(found)
    session.flush()
    return found.id


def finish(
    session: Session, walk_id: int, actor: str, clock: Clock | None = None, config: EngineConfig | None = None,
    deadline_s: float = DEADLINE_S,
) -> dict[str, Any]:  # fmt: skip
    """Close the walk, fit offsets and radii, replay before and after; returns (and stores) the result."""
    walk = _walk(session, walk_id)
    _own(walk, actor)
    if walk.status != WalkStatus.OPEN.value:
        raise Conflict(lazy_gettext("this walk is already finished: its fit is shown on its page, apply or discard it"
                                    " there"),
                       field="walk_id")  # fmt: skip
    now = _clock(clock).now()
    stays = _stays(session, walk.id, now.timestamp())
    if not stays:
        raise DomainError(lazy_gettext("tap the room you are in at least once before finishing, or discard the walk"),
                          field="zone", status=422)  # fmt: skip
    result = _result(session, walk, stays, config or EngineConfig(), deadline_s)
    _move(session, walk, WalkStatus.FINISHED, finished_at=now, result_json=json.dumps(result))
    audit.record(session, actor, "tracking.walk.finish", "tracking_walk", walk.id,
                 after={"marks": len(stays), "sightings": result["sightings"]}, clock=clock)  # fmt: skip
    return result


def apply(session: Session, walk_id: int, actor: str, clock: Clock | None = None) -> int:
    """Write the finished walk's offsets and radii (each audited); returns how many values changed."""
    walk = _walk(session, walk_id)
    if walk.status != WalkStatus.FINISHED.value:
        raise Conflict(_decided_text(walk), field="walk_id")
    result = json.loads(walk.result_json)
    changed = 0
    note = f"from guided walk {walk.id}"
    for row in result["offsets"]:
        changed += calibration_service.apply_offset(session, row["gateway_id"], row["fitted_db"], actor, clock,
                                                    comment=f"offset {note}")  # fmt: skip
    zones = {z.code: z for z in session.scalars(select(Zone))}
    for row in result["radii"]:
        zone = zones.get(row["zone"])
        if zone is None or zone.max_radius_m == row["fitted_m"]:
            continue
        before = {"code": zone.code, "max_radius_m": zone.max_radius_m}
        session.execute(update(Zone).where(Zone.id == zone.id).values(max_radius_m=row["fitted_m"]))
        after = {"code": zone.code, "max_radius_m": row["fitted_m"]}
        audit.record(session, actor, "tracking.zone.radius", "tracking_zone", zone.id, before=before, after=after,
                     comment=f"radius {note}", clock=clock)  # fmt: skip
        changed += 1
    _move(session, walk, WalkStatus.APPLIED, decided_at=_clock(clock).now())
    audit.record(session, actor, "tracking.walk.apply", "tracking_walk", walk.id, after={"changed": changed},
                 clock=clock)  # fmt: skip
    return changed


def discard(session: Session, walk_id: int, actor: str, clock: Clock | None = None) -> None:
    """Drop an open walk (its owner) or a finished walk's fit (nothing is written to the gateways)."""
    walk = _walk(session, walk_id)
    if walk.status == WalkStatus.OPEN.value:
        _own(walk, actor)
    elif walk.status != WalkStatus.FINISHED.value:
        raise Conflict(_decided_text(walk), field="walk_id")
    _move(session, walk, WalkStatus.DISCARDED, decided_at=_clock(clock).now())
    audit.record(session, actor, "tracking.walk.discard", "tracking_walk", walk.id, clock=clock)


def _decided_text(walk: Walk) -> str:
    if walk.status == WalkStatus.OPEN.value:
        return lazy_gettext("this walk is still open: finish it first, then apply or discard its fit")
    if walk.status == WalkStatus.APPLIED.value:
        return lazy_gettext("this walk's fit is already applied: start a new walk to calibrate again")
    return lazy_gettext("this walk was discarded: start a new walk to calibrate again")


def _stays(session: Session, walk_id: int, end: float) -> list[walk_fit.Stay]:
    rows = session.execute(
        select(WalkMark.id, Zone.code, WalkMark.marked_at)
        .join(Zone, WalkMark.zone_id == Zone.id)
        .where(WalkMark.walk_id == walk_id)
        .order_by(WalkMark.marked_at, WalkMark.id)
    ).all()
    starts = [marked_at.timestamp() for _, _, marked_at in rows]
    return [
        walk_fit.Stay(mark_id, code, starts[i], starts[i + 1] if i + 1 < len(rows) else max(end, starts[i]))
        for i, (mark_id, code, _) in enumerate(rows)
    ]


def sightings(session: Session, walk: Walk) -> list[Observation]:
    rows = session.execute(
        select(WalkSighting.gateway_id, WalkSighting.rssi, WalkSighting.ref_power, WalkSighting.at)
        .where(WalkSighting.walk_id == walk.id)
        .order_by(WalkSighting.at, WalkSighting.id)
    )
    return [Observation(g, walk.tag_key, rssi, ref, None, None, at.timestamp()) for g, rssi, ref, at in rows]


def _result(
    session: Session, walk: Walk, stays: list[walk_fit.Stay], config: EngineConfig, deadline_s: float
) -> dict[str, Any]:
    heard = sightings(session, walk)
    shape = calibration_service.geometry(session)
    floor = load_floor(session)
    fits = walk_fit.fit_offsets(stays, heard, shape.centres, shape.gateways, shape.walls_between)
    offsets = {f.gateway_id: f.suggested_offset_db for f in fits}
    fitted_floor = walk_fit.with_fit(floor, offsets, {})
    corners = {zone: [shape.gateways[g] for g, spec in floor.gateways.items() if spec.zone == zone]
               for zone in shape.outlines}  # fmt: skip
    reaches = {zone: walk_fit.reach(outline, corners[zone]) for zone, outline in shape.outlines.items()}
    radii = walk_fit.suggest_radii(stays, heard, fitted_floor, config, reaches)
    before = walk_fit.replay(stays, heard, floor, config, deadline_s)
    after = walk_fit.replay(stays, heard, walk_fit.with_fit(floor, offsets, radii), config, deadline_s)
    current = {g: spec.offset_db for g, spec in floor.gateways.items()}
    return {
        "sightings": len(heard),
        "offsets": [{"gateway_id": f.gateway_id, "current_db": current.get(f.gateway_id, 0.0),
                     "fitted_db": f.suggested_offset_db, "stays": f.tags, "samples": f.samples,
                     "residual_db": f.residual_db} for f in fits],
        "radii": [{"zone": zone, "current_m": floor.max_radius_m.get(zone), "fitted_m": radius}
                  for zone, radius in sorted(radii.items())],
        "before": _replay_json(before),
        "after": _replay_json(after),
    }  # fmt: skip


def _replay_json(found: walk_fit.Replayed) -> dict[str, Any]:
    score: Accuracy = found.accuracy

    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    reached = sorted(d for d in found.delays if d is not None)
    return {
        "observed_s": round(score.total_s),
        "room_accuracy": share(score.room_accuracy),
        "wrong_share": share(score.wrong_share),
        "unknown_share": share(score.unknown_share),
        "median_delay_s": reached[len(reached) // 2] if reached else None,
        "marks": len(found.delays),
        "never": sum(1 for d in found.delays if d is None),
    }


def view(session: Session, walk_id: int) -> WalkView:
    walk = _walk(session, walk_id)
    marks = session.execute(
        select(WalkMark, Zone.code, Zone.name)
        .join(Zone, WalkMark.zone_id == Zone.id)
        .where(WalkMark.walk_id == walk.id)
        .order_by(WalkMark.marked_at, WalkMark.id)
    ).all()
    label = session.scalar(
        select(Asset.name).join(Tag, Asset.tag_id == Tag.id).where(Tag.tag_key == walk.tag_key)
    ) or walk.tag_key  # fmt: skip
    count = session.scalar(select(func.count(WalkSighting.id)).where(WalkSighting.walk_id == walk.id)) or 0
    return WalkView(
        walk.id, walk.tag_key, label, WalkStatus(walk.status), walk.started_by, walk.started_at, walk.finished_at,
        tuple(MarkView(m.id, code, name, m.marked_at, MarkOutcome(m.outcome), m.delay_s) for m, code, name in marks),
        count, json.loads(walk.result_json) if walk.result_json else None,
    )  # fmt: skip


def open_walk_of(session: Session, actor: str) -> int | None:
    """The actor's open walk, if any (the page resumes it)."""
    return session.scalar(
        select(Walk.id).where(Walk.started_by == actor, Walk.status == WalkStatus.OPEN.value).order_by(Walk.id.desc())
    )


def recent(session: Session, limit: int = 10) -> list[tuple[int, str, WalkStatus, datetime, str]]:
    """The latest walks: (id, tag key, status, started at, started by)."""
    rows = session.execute(
        select(Walk.id, Walk.tag_key, Walk.status, Walk.started_at, Walk.started_by)
        .order_by(Walk.id.desc())
        .limit(limit)
    )
    return [(i, key, WalkStatus(status), at, who) for i, key, status, at, who in rows]
