"""The guided walk's fit, pure: gateway offsets and room radii from one carried tag's adverts, and a replay.

No I/O; `tracking.walk` reads the marks and sightings from the database and stores what is fitted here.

**Stays.** Each "I am in room X" mark opens a stay that lasts until the next mark (or the finish). The person
taps as they step in and then stands near the middle of the room, so the first `SETTLE_S` seconds of a stay
(the walk from the door to the middle) are left out of the fit; the replay scores every second.

**Offsets.** Each stay is treated as a reference tag of its own, at the centre of its room: the same
least-squares path-loss fit as `tracking.calibration` (one power per stay, one bias per gateway, the median
gateway levelled to zero). A power per stay rather than one for the whole walk lets a person's body shadow the
tag differently in each room without that being read as a gateway's bias.

**Radii.** The engine calls a tag unknown when its best gateway in the chosen room reads weaker than the room's
`max_radius_m` allows. For each walked room, every second of a settled stay gives the engine's own distance
estimate (median over its window, offset applied, the tag's advertised power at 1 m); the suggestion covers
`RADIUS_SHARE` of those seconds with `RADIUS_HEADROOM` to spare, and at least the room's reach on the floor plan
(its farthest corner from its nearest gateway), rounded up to half a metre.

**Replay.** The walk's adverts are fed through the real `LocationEngine`, once with the offsets and radii in
force and once with the fitted ones; every second between the first mark and the finish is scored against the
room the person said they were in, and each mark gives a time to the room change (as the live samples do).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import median

from tracking import calibration
from tracking.calibration import Accuracy, GatewayFit, Point
from tracking.engine import EngineConfig, FloorModel, GatewaySpec, LocationEngine
from tracking.observation import Observation

SETTLE_S = 8.0  # seconds after a tap that the fit leaves out (door to the middle of the room)
RADIUS_SHARE = 0.95  # a suggested radius covers this share of the settled seconds in the room...
RADIUS_HEADROOM = 1.25  # ...times this
MIN_RADIUS_M, MAX_RADIUS_M = 2.0, 50.0


@dataclass(frozen=True, slots=True)
class Stay:
    """The walker was in `zone` from `start` until `end` (epoch seconds): one mark and the time to the next."""

    mark_id: int
    zone: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Replayed:
    accuracy: Accuracy
    delays: tuple[float | None, ...]  # per stay: seconds from the tap to the engine naming the room, None = never


def stay_key(mark_id: int) -> str:
    return f"walk-mark-{mark_id}"


def settled(
    stays: Sequence[Stay], observations: Iterable[Observation], settle_s: float = SETTLE_S
) -> list[Observation]:
    """The adverts heard inside a stay after its settling time, each keyed by its stay (`stay_key`)."""
    starts = [s.start for s in stays]
    found = []
    for obs in observations:
        i = bisect_left(starts, obs.at + 1e-9) - 1  # the last stay that started at or before the advert
        if i >= 0 and stays[i].start + settle_s <= obs.at < stays[i].end:
            found.append(obs._replace(tag_key=stay_key(stays[i].mark_id)))
    return found


def fit_offsets(
    stays: Sequence[Stay],
    observations: Iterable[Observation],
    centres: Mapping[str, Point],
    gateways: Mapping[str, Point],
    walls_between: Callable[[Point, Point], int],
    wall_db: float = calibration.WALL_DB,
) -> list[GatewayFit]:
    """Per gateway, the offset the walk calls for (empty when no stay was heard by two gateways)."""
    positions = {stay_key(s.mark_id): centres[s.zone] for s in stays if s.zone in centres}
    keyed = settled(stays, observations)
    heard = calibration.medians(keyed, positions)
    found = calibration.readings(heard, positions, gateways, walls_between)
    return calibration.fit_offsets(found, wall_db=wall_db)


def with_fit(floor: FloorModel, offsets: Mapping[str, float], radii: Mapping[str, float]) -> FloorModel:
    """The floor with fitted offsets and radii in place of those in force."""
    gateways = {g: replace(spec, offset_db=offsets.get(g, spec.offset_db)) for g, spec in floor.gateways.items()}
    return FloorModel(gateways, {**floor.max_radius_m, **radii})


def reach(outline: Sequence[Point], gateways: Sequence[Point]) -> float:
    """How far the room's farthest corner is from its nearest gateway: a radius must never be less than this."""
    if not outline or not gateways:
        return 0.0
    return max(min(math.dist(corner, g) for g in gateways) for corner in outline)


def suggest_radii(
    stays: Sequence[Stay],
    observations: Sequence[Observation],
    floor: FloorModel,
    config: EngineConfig | None = None,
    reaches: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Per walked room with a gateway, the radius that keeps the settled seconds of the walk inside it, and never
    less than the room's own reach (`reach`: a tag in a far corner must not become unknown)."""
    cfg = config or EngineConfig()
    by_zone: dict[str, list[float]] = {}
    ordered = sorted(observations, key=lambda o: o.at)
    times = [o.at for o in ordered]
    for stay in stays:
        zone_gateways = {g: spec for g, spec in floor.gateways.items() if spec.zone == stay.zone}
        if not zone_gateways:
            continue
        second = stay.start + SETTLE_S
        while second < stay.end:
            window = ordered[bisect_left(times, second - cfg.window_s) : bisect_left(times, second + 1e-9)]
            distance = _distance(window, zone_gateways, cfg)
            if distance is not None:
                by_zone.setdefault(stay.zone, []).append(distance)
            second += 1.0
    found = {}
    for zone, distances in by_zone.items():
        distances.sort()
        covered = distances[min(len(distances) - 1, math.ceil(RADIUS_SHARE * len(distances)) - 1)]
        radius = math.ceil(max(covered * RADIUS_HEADROOM, (reaches or {}).get(zone, 0.0)) * 2) / 2
        found[zone] = max(MIN_RADIUS_M, min(MAX_RADIUS_M, radius))
    return found


def _distance(window: Sequence[Observation], gateways: Mapping[str, GatewaySpec], cfg: EngineConfig) -> float | None:
    """The engine's distance estimate from the room's best gateway over one window, or None if none counts."""
    heard: dict[str, list[int]] = {}
    ref = cfg.default_ref_power
    for obs in window:
        if obs.gateway_id in gateways:
            heard.setdefault(obs.gateway_id, []).append(obs.rssi)
        if obs.ref_power is not None:
            ref = obs.ref_power
    scores = [median(v) + gateways[g].offset_db for g, v in heard.items() if len(v) >= cfg.min_samples]
    if not scores:
        return None
    return float(10 ** ((ref - max(scores)) / (10 * cfg.path_loss_exponent)))


def sample(
    zone: str, at: float, end: float, changes: Sequence[tuple[float, str | None]], there_at_tap: bool
) -> float | None:
    """One time-to-room-change sample: 0 when the engine already had the tag in the room at the tap, else the
    seconds to its first move into the room before `end` (the next tap or the deadline), else None (never)."""
    if there_at_tap:
        return 0.0
    return next((t - at for t, to_zone in changes if at <= t < end and to_zone == zone), None)


def replay(
    stays: Sequence[Stay],
    observations: Sequence[Observation],
    floor: FloorModel,
    config: EngineConfig | None = None,
    deadline_s: float = math.inf,
) -> Replayed:
    """Feed the walk through a fresh engine; score each second of the walk and each mark's room change."""
    if not stays:
        return Replayed(Accuracy(), ())
    engine = LocationEngine(floor, config)
    ordered = sorted(observations, key=lambda o: o.at)
    tag_keys = {o.tag_key for o in ordered}
    tag_key = next(iter(tag_keys)) if len(tag_keys) == 1 else ""
    score = Accuracy()
    changes: list[tuple[float, str | None]] = []
    at_tap: list[bool] = []
    index, second, stay_index = 0, stays[0].start, 0
    while second < stays[-1].end:
        while index < len(ordered) and ordered[index].at <= second:
            obs = ordered[index]
            engine.observe(obs.tag_key, obs.gateway_id, obs.rssi, obs.ref_power, obs.at)
            index += 1
        engine.tick(second)
        changes += [(c.at, c.to_zone) for c in engine.drain_changes()]
        while stay_index + 1 < len(stays) and stays[stay_index + 1].start <= second:
            stay_index += 1
        while len(at_tap) <= stay_index:
            at_tap.append(engine.location(tag_key)[0] == stays[stay_index].zone)
        score += calibration.score_decision(engine.location(tag_key)[0], stays[stay_index].zone)
        second += 1.0
    found = [sample(s.zone, s.start, min(s.end, s.start + deadline_s), changes, i < len(at_tap) and at_tap[i])
             for i, s in enumerate(stays)]  # fmt: skip
    delays = tuple(None if d is None else round(d, 1) for d in found)
    return Replayed(score, delays)
