"""Calibration from fixed reference tags: per-gateway RSSI offsets fitted to a path-loss model, and room accuracy.

Pure functions, no I/O; `tracking.calibration_service` reads the database and applies what is fitted here.

**The fit.** A reference tag is an asset of type `REFERENCE_TAG` fixed in its home zone; it is taken to sit at
the zone's centre. For every (tag t, gateway g) pair the window gives the median RSSI m_tg. The log-distance
path-loss model (Rappaport, *Wireless Communications*, 2nd ed., §4.9; with a per-wall loss as in the
multi-wall model of COST 231, ch. 4.7) predicts

    m_tg = P_t + b_g - 10·n·log10(d_tg) - W·walls_tg + noise

where d_tg is the distance between the tag's room centre and the gateway on the floor plan, walls_tg the walls
between them (zones holding exactly one of the two points, the simulator's rule), n and W fixed constants,
P_t the tag's own power at 1 m and b_g how much hotter (+) or colder (-) gateway g reads than the fleet. With
r_tg = m_tg + 10·n·log10(d_tg) + W·walls_tg this is a two-way additive model r_tg = P_t + b_g, solved by least
squares (alternating means until nothing moves, which is the least-squares solution for a connected design)
under the constraint that the b_g sum to zero; the common level is then shifted so the median gateway needs no
offset (most of a fleet is one radio model; the odd ones out get the offsets). The suggested offset is -b_g:
added to every reading, it takes the gateway back to the fleet's level.

Why this shape: P_t is fitted per tag rather than taken from the advert's "power at 1 m", because cheap tags
misstate it by several dB, and a wrong P_t would be read as a gateway bias. The price is that the absolute
level is not identifiable, hence the gauge; room choice only compares gateways with each other,
so only differences matter. Comparing gateways that hear the same tag without the floor plan would confuse
"far away" with "reads cold", so the geometry is used. Medians, not means, because multipath fades are
one-sided. A gateway that heard a tag in fewer than `HEARD_SHARE` of the adverts its best gateway heard is
left out for that tag: near the receiver's sensitivity only the lucky adverts arrive, and their median reads
high (censoring).

**Accuracy.** Reference tags never move, so every moment of their decided location is scored against the
home zone: right, unknown (honest: the engine would not say) or wrong (a confident wrong room). For walks with
a known truth, `room_change_delays` measures how long after entering a room the engine said so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from tracking.observation import Observation

REFERENCE_TAG = "reference_tag"  # Asset.asset_type of a tag fixed in its home zone
HEARD_SHARE = 0.8  # a gateway must hear this share of the adverts the tag's best gateway heard
PATH_LOSS_EXPONENT = 2.2  # n: the engine's and the simulator's default indoors
WALL_DB = 4.0  # W: one interior wall
MIN_DISTANCE_M = 0.3
MAX_OFFSET_DB = 30.0  # an offset beyond this is a broken radio or a wrong floor plan, not calibration

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Reading:
    """One reference tag as one gateway heard it over the window."""

    tag_key: str
    gateway_id: str
    median_rssi: float
    samples: int
    distance_m: float
    walls: int


@dataclass(frozen=True, slots=True)
class GatewayFit:
    gateway_id: str
    suggested_offset_db: float  # add this to every RSSI the gateway reports
    tags: int  # reference tags that gave this gateway a usable reading
    samples: int  # adverts behind those medians
    residual_db: float  # RMS of what the model could not explain for this gateway


def path_gain_db(distance_m: float, walls: int, n: float = PATH_LOSS_EXPONENT, wall_db: float = WALL_DB) -> float:
    """What distance and walls take off the tag's power at 1 m (a negative number of dB)."""
    return -10.0 * n * math.log10(max(distance_m, MIN_DISTANCE_M)) - wall_db * walls


def medians(observations: Iterable[Observation], tag_keys: Iterable[str]) -> dict[tuple[str, str], tuple[float, int]]:
    """Per (tag, gateway): the median RSSI and how many adverts it is the median of, for the given tags only."""
    wanted = set(tag_keys)
    heard: dict[tuple[str, str], list[int]] = {}
    for obs in observations:
        if obs.tag_key in wanted:
            heard.setdefault((obs.tag_key, obs.gateway_id), []).append(obs.rssi)
    return {key: (float(median(values)), len(values)) for key, values in heard.items()}


def readings(
    heard: Mapping[tuple[str, str], tuple[float, int]],
    tag_positions: Mapping[str, Point],
    gateway_positions: Mapping[str, Point],
    walls_between: Callable[[Point, Point], int],
) -> list[Reading]:
    """The usable readings: known tag and gateway, and heard often enough not to be censored near sensitivity."""
    best: dict[str, int] = {}
    for (tag_key, _gateway_id), (_value, count) in heard.items():
        best[tag_key] = max(best.get(tag_key, 0), count)
    found = []
    for (tag_key, gateway_id), (value, count) in sorted(heard.items()):
        tag_xy, gateway_xy = tag_positions.get(tag_key), gateway_positions.get(gateway_id)
        if tag_xy is None or gateway_xy is None or count < HEARD_SHARE * best[tag_key]:
            continue
        d = math.hypot(tag_xy[0] - gateway_xy[0], tag_xy[1] - gateway_xy[1])
        found.append(Reading(tag_key, gateway_id, value, count, d, walls_between(tag_xy, gateway_xy)))
    return found


def fit_offsets(
    found: Sequence[Reading], n: float = PATH_LOSS_EXPONENT, wall_db: float = WALL_DB, rounds: int = 500
) -> list[GatewayFit]:
    """Least-squares per-gateway bias (sum-to-zero) and per-tag power; returns the offsets that undo the bias.

    Only tags heard by at least two gateways say anything about gateways, so the others are dropped first.
    """
    per_tag: dict[str, int] = {}
    for r in found:
        per_tag[r.tag_key] = per_tag.get(r.tag_key, 0) + 1
    rows = [
        (r, r.median_rssi - path_gain_db(r.distance_m, r.walls, n, wall_db)) for r in found if per_tag[r.tag_key] > 1
    ]
    if not rows:
        return []
    bias = {r.gateway_id: 0.0 for r, _ in rows}
    power = {r.tag_key: 0.0 for r, _ in rows}
    for _ in range(rounds):
        power = _means(((r.tag_key, value - bias[r.gateway_id]) for r, value in rows), power)
        fresh = _means(((r.gateway_id, value - power[r.tag_key]) for r, value in rows), bias)
        centre = sum(fresh.values()) / len(fresh)
        fresh = {g: b - centre for g, b in fresh.items()}
        moved = max(abs(fresh[g] - bias[g]) for g in fresh)
        bias = fresh
        if moved < 1e-6:
            break
    level = median(bias.values())
    bias = {g: b - level for g, b in bias.items()}
    power = _means(((r.tag_key, value - bias[r.gateway_id]) for r, value in rows), power)
    return [_gateway_fit(g, b, [(r, value - power[r.tag_key] - b) for r, value in rows if r.gateway_id == g])
            for g, b in sorted(bias.items())]  # fmt: skip


def _means(pairs: Iterable[tuple[str, float]], keys: Mapping[str, float]) -> dict[str, float]:
    total = dict.fromkeys(keys, 0.0)
    count = dict.fromkeys(keys, 0)
    for key, value in pairs:
        total[key] += value
        count[key] += 1
    return {key: total[key] / count[key] for key in keys}


def _gateway_fit(gateway_id: str, bias: float, errors: list[tuple[Reading, float]]) -> GatewayFit:
    offset = max(-MAX_OFFSET_DB, min(MAX_OFFSET_DB, -bias))
    rms = math.sqrt(sum(e * e for _, e in errors) / len(errors))
    samples = sum(r.samples for r, _ in errors)
    return GatewayFit(gateway_id, round(offset, 1) + 0.0, len(errors), samples, round(rms, 2))


# ---- accuracy -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Accuracy:
    """Seconds of decisions that named the true room, said unknown, or named another room."""

    right_s: float = 0.0
    unknown_s: float = 0.0
    wrong_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.right_s + self.unknown_s + self.wrong_s

    @property
    def room_accuracy(self) -> float | None:
        return None if self.total_s <= 0 else self.right_s / self.total_s

    @property
    def unknown_share(self) -> float | None:
        return None if self.total_s <= 0 else self.unknown_s / self.total_s

    @property
    def wrong_share(self) -> float | None:
        return None if self.total_s <= 0 else self.wrong_s / self.total_s

    def __add__(self, other: Accuracy) -> Accuracy:
        return Accuracy(self.right_s + other.right_s, self.unknown_s + other.unknown_s, self.wrong_s + other.wrong_s)


def score_intervals(
    intervals: Iterable[tuple[str | None, float, float | None]], truth: str, start: float, end: float
) -> Accuracy:
    """Score decided intervals (zone or None for unknown, from, until or None for still) against a fixed room,
    counting only the part inside [start, end]."""
    right = unknown = wrong = 0.0
    for zone, since, until in intervals:
        span = min(end, end if until is None else until) - max(start, since)
        if span <= 0:
            continue
        if zone is None:
            unknown += span
        elif zone == truth:
            right += span
        else:
            wrong += span
    return Accuracy(right, unknown, wrong)


def score_decision(decided: str | None, truth: str, seconds: float = 1.0) -> Accuracy:
    """One sampled decision (e.g. each second of a replay) against the true room."""
    if decided is None:
        return Accuracy(unknown_s=seconds)
    return Accuracy(right_s=seconds) if decided == truth else Accuracy(wrong_s=seconds)


def room_change_delays(
    entered: Sequence[tuple[float, str]], decided: Sequence[tuple[float, str | None]]
) -> list[float | None]:
    """For each true entry (time, room), seconds until the engine first put the tag in that room (None = never
    before the next true entry). `decided` is the engine's (time, zone) changes in time order."""
    delays: list[float | None] = []
    for i, (at, room) in enumerate(entered):
        until = entered[i + 1][0] if i + 1 < len(entered) else math.inf
        hit = next((t for t, zone in decided if at <= t < until and zone == room), None)
        delays.append(None if hit is None else hit - at)
    return delays
