"""The guided walk's fit on a simulated walk: injected gateway offsets recovered within 2 dB, radii that keep the
walker in the room, the replay through the real engine scoring before and after, and the samples' rules.

Run with `-s` to see the figures.
"""

from __future__ import annotations

import math

import pytest

from tests.tracking.walk_sim import INJECTED, heard, walk_through
from tracking.engine import FloorModel, GatewaySpec
from tracking.floorplan import demo_floor
from tracking.observation import Observation
from tracking.walk_fit import Stay, fit_offsets, reach, replay, sample, settled, stay_key, suggest_radii, with_fit


def _stays(taps: list[tuple[float, str]], end: float) -> list[Stay]:
    return [Stay(i + 1, zone, at, taps[i + 1][0] if i + 1 < len(taps) else end) for i, (at, zone) in enumerate(taps)]


def test_a_simulated_walk_recovers_injected_offsets_within_2_db_and_the_replay_improves() -> None:
    plan = demo_floor()
    walk = walk_through(plan, "walk-tag")
    observations = heard(plan, walk)
    stays = _stays(walk.taps, walk.end_s)
    assert [s.zone for s in stays] == ["ICU-1", "ICU-2", "OR-1", "WARD-A", "EQUIP", "SOILED", "PHARM", "ER-1", "RAD",
                                       "WARD-B", "EXIT"]  # fmt: skip
    centres = {z.code: z.centre for z in plan.zones}
    gateways = {g.gateway_id: (g.x, g.y) for g in plan.gateways}
    fits = fit_offsets(stays, observations, centres, gateways, plan.walls_between)
    recovered = {f.gateway_id: -f.suggested_offset_db for f in fits}
    print("\ninjected vs recovered bias (dB):",
          ", ".join(f"{g} {INJECTED.get(g, 0.0):+.1f}/{recovered[g]:+.1f}" for g in sorted(recovered)))  # fmt: skip
    assert set(recovered) == set(gateways)
    for gateway_id in gateways:
        assert abs(recovered[gateway_id] - INJECTED.get(gateway_id, 0.0)) <= 2.0, gateway_id

    floor = FloorModel({g.gateway_id: GatewaySpec(g.gateway_id, g.zone) for g in plan.gateways},
                       {z.code: z.max_radius_m for z in plan.zones if z.kind != "corridor"})  # fmt: skip
    offsets = {f.gateway_id: f.suggested_offset_db for f in fits}
    radii = suggest_radii(stays, observations, with_fit(floor, offsets, {}))
    assert set(radii) == {s.zone for s in stays} and all(2.0 <= r <= 50.0 for r in radii.values())
    before = replay(stays, observations, floor)
    after = replay(stays, observations, with_fit(floor, offsets, radii))
    for name, found in (("before", before), ("after", after)):
        score = found.accuracy
        print(f"{name}: room accuracy {score.room_accuracy:.1%}, wrong {score.wrong_share:.1%}, "
              f"unknown {score.unknown_share:.1%}, delays {found.delays}")  # fmt: skip
    assert before.accuracy.total_s == after.accuracy.total_s == pytest.approx(walk.end_s - stays[0].start, abs=1.5)
    assert after.accuracy.room_accuracy is not None and before.accuracy.room_accuracy is not None
    assert after.accuracy.room_accuracy >= before.accuracy.room_accuracy
    assert after.accuracy.room_accuracy > 0.8
    assert len(after.delays) == len(stays) and sum(d is not None for d in after.delays) >= len(stays) - 1


def test_settling_keys_adverts_by_stay_and_leaves_out_the_walk_from_the_door() -> None:
    plan = demo_floor()
    walk = walk_through(plan, "walk-tag", route=["ICU-1", "ICU-2"])
    observations = heard(plan, walk)
    stays = _stays(walk.taps, walk.end_s)
    kept = settled(stays, observations, settle_s=8.0)
    assert {o.tag_key for o in kept} == {stay_key(1), stay_key(2)}
    assert all(o.at >= stays[0].start + 8.0 for o in kept if o.tag_key == stay_key(1))
    assert all(stays[1].start + 8.0 <= o.at < stays[1].end for o in kept if o.tag_key == stay_key(2))
    assert not settled(stays, [o._replace(at=stays[0].start - 1.0) for o in observations[:5]])


def test_a_sample_is_zero_when_already_there_the_first_move_otherwise_and_never_after_the_end() -> None:
    changes = [(5.0, "B"), (12.0, "A"), (20.0, "A")]
    assert sample("A", 10.0, 70.0, changes, there_at_tap=False) == 2.0
    assert sample("A", 10.0, 70.0, changes, there_at_tap=True) == 0.0
    assert sample("B", 10.0, 70.0, changes, there_at_tap=False) is None  # B was before the tap
    assert sample("A", 13.0, 19.0, changes, there_at_tap=False) is None  # the next tap came first


def test_a_suggested_radius_never_leaves_a_corner_of_the_room_outside() -> None:
    room = [(0.0, 0.0), (10.0, 0.0), (10.0, 8.0), (0.0, 8.0)]
    assert reach(room, [(5.0, 4.0)]) == pytest.approx(math.hypot(5.0, 4.0))
    assert reach(room, [(0.0, 0.0), (10.0, 8.0)]) == pytest.approx(8.0)  # each corner from its nearest gateway
    assert reach(room, []) == 0.0
    floor = FloorModel({"gw-a": GatewaySpec("gw-a", "A")})
    stays = [Stay(1, "A", 0.0, 40.0)]
    close = [Observation("gw-a", "t", -50, -59, None, None, float(t)) for t in range(40)]  # about 0.4 m away
    assert suggest_radii(stays, close, floor) == {"A": 2.0}  # the floor of any suggestion
    assert suggest_radii(stays, close, floor, reaches={"A": reach(room, [(5.0, 4.0)])}) == {"A": 6.5}
