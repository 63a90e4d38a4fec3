"""Calibration fit on hand-made numbers, and the issue's acceptance: offsets injected into simulated gateways are
recovered from reference tags through the real engine's inputs, and the replayed walk gets more rooms right.

Run with `-s` to see the before/after figures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator

import pytest

from tracking.calibration import (
    Accuracy,
    Reading,
    fit_offsets,
    medians,
    path_gain_db,
    readings,
    room_change_delays,
    score_decision,
    score_intervals,
)
from tracking.engine import FloorModel, GatewaySpec, LocationEngine
from tracking.floorplan import FloorPlan, demo_floor
from tracking.observation import Observation
from tracking.simulate import RadioModel, RadioSim, Walker

INJECTED = {"gw-ward-a": 6.0, "gw-equip": -4.0, "gw-rad": 8.0}  # dB each gateway reads hot (+) or cold (-)


# ---- the fit on hand-made numbers -----------------------------------------------------------------------------
def _reading(tag: str, gateway: str, d: float, walls: int, power: float, bias: float) -> Reading:
    return Reading(tag, gateway, power + bias + path_gain_db(d, walls), 20, d, walls)


def test_fit_recovers_exact_biases_and_ignores_each_tags_own_power() -> None:
    biases = {"g1": 5.0, "g2": -3.0, "g3": 0.0}  # the median gateway at zero: the gauge the fit uses
    powers = {"t1": -59.0, "t2": -65.0, "t3": -52.0}  # tags disagree about their own power; the fit must not care
    geometry = {("t1", "g1"): (2, 0), ("t1", "g2"): (7, 2), ("t1", "g3"): (12, 2), ("t2", "g2"): (1.5, 0),
                ("t2", "g3"): (6, 2), ("t3", "g1"): (9, 2), ("t3", "g3"): (3, 0)}  # fmt: skip
    found = [_reading(t, g, d, w, powers[t], biases[g]) for (t, g), (d, w) in geometry.items()]
    fits = {f.gateway_id: f for f in fit_offsets(found)}
    assert set(fits) == {"g1", "g2", "g3"}
    for gateway, bias in biases.items():
        assert fits[gateway].suggested_offset_db == pytest.approx(-bias, abs=0.05)
        assert fits[gateway].residual_db == pytest.approx(0.0, abs=0.01)
    assert (fits["g1"].tags, fits["g1"].samples) == (2, 40)


def test_fit_reports_what_the_model_cannot_explain_and_skips_lonely_tags() -> None:
    found = [
        _reading("t1", "g1", 2, 0, -59, 0), _reading("t1", "g2", 8, 2, -59, 0),
        _reading("t2", "g1", 8, 2, -59, 0), _reading("t2", "g2", 2, 0, -59, 0),
        Reading("t3", "g1", -40.0, 10, 5, 0),  # heard by one gateway only: says nothing about gateways
    ]  # fmt: skip
    found[0] = Reading("t1", "g1", found[0].median_rssi + 4.0, 20, 2, 0)  # one reading 4 dB off the model
    fits = {f.gateway_id: f for f in fit_offsets(found)}
    assert fits["g1"].tags == 2 and fits["g1"].residual_db > 0.5
    assert abs(fits["g1"].suggested_offset_db) < 2.0
    assert fit_offsets([]) == [] and fit_offsets([found[4]]) == []


def test_censored_gateways_are_left_out_and_medians_are_per_tag_and_gateway() -> None:
    obs = [Observation("g1", "t1", -60 - i % 3, -59, None, None, float(i)) for i in range(10)]
    obs += [Observation("g2", "t1", -95, -59, None, None, float(i)) for i in range(3)]  # heard 3 of 10: censored
    obs += [Observation("g1", "other", -40, -59, None, None, 0.0)]
    heard = medians(obs, ["t1"])
    assert heard == {("t1", "g1"): (-61.0, 10), ("t1", "g2"): (-95.0, 3)}
    found = readings(heard, {"t1": (0.0, 0.0)}, {"g1": (3.0, 4.0), "g2": (0.0, 1.0)}, lambda a, b: 1)
    assert [(r.gateway_id, r.distance_m, r.walls) for r in found] == [("g1", 5.0, 1)]


def test_accuracy_counts_unknown_apart_from_wrong_and_delays_follow_the_truth() -> None:
    score = score_intervals([("A", 0, 50), (None, 50, 60), ("B", 60, 70), ("A", 70, None)], "A", 10, 100)
    assert (score.right_s, score.unknown_s, score.wrong_s) == (70, 10, 10)
    assert score.room_accuracy == pytest.approx(70 / 90) and score.unknown_share == pytest.approx(10 / 90)
    assert Accuracy().room_accuracy is None
    total = score_decision("A", "A") + score_decision(None, "A") + score_decision("B", "A")
    assert (total.right_s, total.unknown_s, total.wrong_s) == (1, 1, 1)
    assert room_change_delays([(10, "A"), (50, "B"), (90, "A")], [(14, "A"), (58, None), (61, "B")]) == [4, 11, None]


# ---- the acceptance: injected offsets, reference tags and a walk over the real engine ----------------------------
def _biased(observations: Iterable[Observation], bias: dict[str, float]) -> Iterator[Observation]:
    for obs in observations:
        yield obs._replace(rssi=round(obs.rssi + bias.get(obs.gateway_id, 0.0)))


def _reference_walkers(plan: FloorPlan, rng: random.Random, seconds: float) -> tuple[list[Walker], dict[str, str]]:
    """One tag fixed in each zone that has a gateway, up to a metre from the zone's centre (never exactly on it)."""
    walkers, homes = [], {}
    for zone_code in sorted({g.zone for g in plan.gateways}):
        cx, cy = plan.zone(zone_code).centre
        key = f"ref-{zone_code}"
        walkers.append(Walker(key, [(cx + rng.uniform(-1, 1), cy + rng.uniform(-1, 1), seconds)]))
        homes[key] = zone_code
    return walkers, homes


def _room_walkers(plan: FloorPlan, rng: random.Random, count: int, legs: int) -> list[Walker]:
    """Staff walking from room to room through the corridor, stopping anywhere in a room (corners included)."""
    rooms = [z for z in plan.zones if z.kind in ("room", "soiled_utility")]
    walkers = []
    for number in range(count):
        here = rng.choice(rooms)
        points = [(rng.uniform(here.x0 + 0.3, here.x1 - 0.3), rng.uniform(here.y0 + 0.3, here.y1 - 0.3), 60.0)]
        for _ in range(legs):
            room = rng.choice(rooms)
            x, y = rng.uniform(room.x0 + 0.3, room.x1 - 0.3), rng.uniform(room.y0 + 0.3, room.y1 - 0.3)
            points += [(points[-1][0], 8.0, 0.0), (x, 8.0, 0.0), (x, y, rng.uniform(60, 150))]
        walkers.append(Walker(f"walk-{number}", points))
    return walkers


def _engine(plan: FloorPlan, offsets: dict[str, float]) -> LocationEngine:
    specs = {g.gateway_id: GatewaySpec(g.gateway_id, g.zone, offsets.get(g.gateway_id, 0.0)) for g in plan.gateways}
    return LocationEngine(FloorModel(specs, {z.code: z.max_radius_m for z in plan.zones}))


def _replay(plan: FloorPlan, walkers: list[Walker], observations: list[Observation], offsets: dict[str, float],
            end: float) -> tuple[Accuracy, list[float | None]]:  # fmt: skip
    """Feed the recorded walk through the real engine; score each second a walker is inside a room."""
    engine = _engine(plan, offsets)
    score, changes = Accuracy(), []
    entered: dict[str, list[tuple[float, str]]] = {w.tag_key: [] for w in walkers}
    truth_before: dict[str, str | None] = {}
    index, second = 0, 1.0
    while second <= end:
        while index < len(observations) and observations[index].at <= second:
            obs = observations[index]
            engine.observe(obs.tag_key, obs.gateway_id, obs.rssi, obs.ref_power, obs.at)
            index += 1
        engine.tick(second)
        changes.extend(engine.drain_changes())
        for walker in walkers:
            truth = plan.zone_at(*walker.position(second))
            if truth is not None and plan.zone(truth).kind in ("room", "soiled_utility"):
                score += score_decision(engine.location(walker.tag_key)[0], truth)
                if truth_before.get(walker.tag_key) != truth:
                    entered[walker.tag_key].append((second, truth))
            truth_before[walker.tag_key] = truth
        second += 1.0
    delays: list[float | None] = []
    for key, rooms in entered.items():
        decided = [(c.at, c.to_zone) for c in changes if c.tag_key == key]
        delays += room_change_delays(rooms[1:], decided)  # the first room is the tag's first fix, not a change
    return score, delays


def _median_delay(delays: list[float | None]) -> float:
    found = sorted(d for d in delays if d is not None)
    return found[len(found) // 2] if found else math.inf


def test_injected_offsets_are_recovered_within_2_db_and_room_accuracy_rises() -> None:
    plan, rng, seconds = demo_floor(), random.Random(7), 3600.0
    radio = RadioModel(sigma_db=3.5, wall_db=3.0)
    refs, homes = _reference_walkers(plan, rng, seconds)
    heard_refs = list(_biased(RadioSim(plan, refs, radio, seed=11).run(0.0, 600.0), INJECTED))
    heard = medians(heard_refs, homes)
    centres = {key: plan.zone(zone).centre for key, zone in homes.items()}
    gateways = {g.gateway_id: (g.x, g.y) for g in plan.gateways}
    fits = fit_offsets(readings(heard, centres, gateways, plan.walls_between), wall_db=radio.wall_db)
    recovered = {f.gateway_id: -f.suggested_offset_db for f in fits}
    print("\ninjected vs recovered bias (dB):",
          ", ".join(f"{g} {INJECTED.get(g, 0.0):+.1f}/{recovered[g]:+.1f}" for g in sorted(recovered)))  # fmt: skip
    assert set(recovered) == set(gateways)
    for gateway_id in gateways:
        assert abs(recovered[gateway_id] - INJECTED.get(gateway_id, 0.0)) <= 2.0, gateway_id

    walkers = _room_walkers(plan, rng, count=8, legs=30)
    walk = list(_biased(RadioSim(plan, walkers + refs, radio, seed=12).run(0.0, seconds), INJECTED))
    before, delays_before = _replay(plan, walkers + refs, walk, {}, seconds)
    offsets = {f.gateway_id: f.suggested_offset_db for f in fits}
    after, delays_after = _replay(plan, walkers + refs, walk, offsets, seconds)
    line = "room accuracy {:.1%} wrong {:.1%} unknown {:.1%}; median time to room change {:.0f} s ({} of {} missed)"
    for name, score, delays in (("before", before, delays_before), ("after", after, delays_after)):
        print(f"{name}: " + line.format(score.room_accuracy, score.wrong_share, score.unknown_share,
                                         _median_delay(delays), delays.count(None), len(delays)))  # fmt: skip
    assert before.room_accuracy is not None and after.room_accuracy is not None
    assert after.room_accuracy > before.room_accuracy
    assert after.wrong_s < before.wrong_s
