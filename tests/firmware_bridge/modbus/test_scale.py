"""Weigh-scale bins against our transmitter simulator (every preset, TCP and RTU): readings, tare/zero, counting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.counting import CountRefusal, count_change
from firmware_bridge.modbus.scale import ModbusScale, ScaleConfig
from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.protocols import Scale, WeightReading
from firmware_bridge.sim.scale import ScaleSimulator

UNIT = 25.0


def open_scale(sim: ScaleSimulator, transport: str, preset: str, device_id: int = 3) -> ModbusScale:
    address = sim.start_tcp() if transport == "tcp" else sim.start_rtu()
    url = f"tcp://{address}" if transport == "tcp" else address
    config = ScaleConfig.from_config({"bus": {"url": url, "timeout": 0.3}, "device_id": device_id, "preset": preset})
    return ModbusScale(config, ModbusBus(config.bus))


@pytest.fixture(params=[(p, t) for p in sorted(PRESETS) for t in ("tcp", "rtu")], ids=lambda v: f"{v[0]}-{v[1]}")
def rig(request: pytest.FixtureRequest) -> Iterator[tuple[ScaleSimulator, ModbusScale]]:
    preset, transport = request.param
    sim = ScaleSimulator((3,), preset, unit_grams=UNIT, items=40, noise_grams=1.0, settle_s=0.25)
    scale = open_scale(sim, transport, preset)
    yield sim, scale
    scale.close()
    sim.stop()


def test_reading_tare_and_zero(rig: tuple[ScaleSimulator, ModbusScale]) -> None:
    sim, scale = rig
    assert isinstance(scale, Scale)
    reading = scale.read_stable()
    assert reading.stable and not reading.overflow
    assert reading.grams == pytest.approx(sim.scale(3).true_net_grams(), abs=8)  # noise 1 g sigma, 1 g resolution
    scale.tare()
    assert scale.read_stable().grams == pytest.approx(0, abs=8)
    sim.scale(3).lean(-200.0)  # lift something off: the net goes negative
    assert scale.read_stable().grams == pytest.approx(-200, abs=8)
    scale.zero()
    assert scale.read_stable().grams == pytest.approx(0, abs=8)
    assert sim.scale(3).commands == ["tare", "zero"]


def test_counting_items_taken_and_returned_through_noise(rig: tuple[ScaleSimulator, ModbusScale]) -> None:
    sim, scale = rig
    before = scale.read_stable()
    sim.scale(3).take(3)
    after = scale.read_stable()
    taken = count_change(before, after, UNIT)
    assert taken.ok and taken.items == 3 and taken.taken == 3
    sim.scale(3).put(2)
    back = count_change(after, scale.read_stable(), UNIT)
    assert back.items == -2 and back.returned == 2


def test_in_between_weights_and_overload_are_refused(rig: tuple[ScaleSimulator, ModbusScale]) -> None:
    sim, scale = rig
    before = scale.read_stable()
    sim.scale(3).lean(12.0)  # half an item's weight: a hand on the bin, not an item
    refused = count_change(before, scale.read_stable(), UNIT)
    assert refused.refusal is CountRefusal.OUT_OF_TOLERANCE and refused.items is None
    sim.scale(3).lean(40_000.0)
    over = scale.read_stable()
    assert over.overflow
    assert count_change(before, over, UNIT).refusal is CountRefusal.OVERFLOW


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_a_settling_load_is_not_stable_and_not_counted(transport: str) -> None:
    sim = ScaleSimulator((3,), "dini_argeo_dgt4x", unit_grams=UNIT, items=10, noise_grams=0.5, settle_s=5.0)
    sim.scale(3).set_load(10)  # restarts the settling clock: 5 s of margin for a slow machine
    scale = open_scale(sim, transport, "dini_argeo_dgt4x")
    try:
        first = scale.read()
        sim.scale(3).take(2)
        moving = scale.read()
        assert not first.stable and not moving.stable
        refused = count_change(first, moving, UNIT)
        assert refused.refusal is CountRefusal.UNSTABLE and refused.items is None
    finally:
        scale.close()
        sim.stop()


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_several_transmitters_on_one_bus(transport: str) -> None:
    sim = ScaleSimulator((3, 4), "pt_global_pt113", unit_grams=UNIT, items=10, noise_grams=0.0, settle_s=0.05)
    first = open_scale(sim, transport, "pt_global_pt113", 3)
    second = ModbusScale(ScaleConfig(first.config.bus, 4, first.map), first.bus)
    try:
        sim.scale(4).take(4)
        assert first.read_stable().grams == pytest.approx(250, abs=1)
        assert second.read_stable().grams == pytest.approx(150, abs=1)
    finally:
        first.close()
        sim.stop()


def reading(grams: float, stable: bool = True, overflow: bool = False) -> WeightReading:
    return WeightReading(grams=grams, stable=stable, overflow=overflow, raw=0)


@pytest.mark.parametrize(
    ("before", "after", "items", "refusal"),
    [
        (1000.0, 925.5, 3, None),  # 2.98 items
        (1000.0, 1050.0, -2, None),
        (1000.0, 1000.4, 0, None),
        (1000.0, 942.0, None, CountRefusal.OUT_OF_TOLERANCE),  # 2.32 items
        (1000.0, 930.0, None, CountRefusal.OUT_OF_TOLERANCE),  # 2.8 items: 0.2 off, over this test's 0.15
    ],
)
def test_count_change_arithmetic(before: float, after: float, items: int | None, refusal: CountRefusal | None) -> None:
    result = count_change(reading(before), reading(after), UNIT, tolerance=0.15)
    assert (result.items, result.refusal) == (items, refusal)


def test_count_change_refuses_instead_of_guessing() -> None:
    assert count_change(reading(1000, stable=False), reading(900), UNIT).refusal is CountRefusal.UNSTABLE
    assert count_change(reading(1000), reading(900, overflow=True), UNIT).refusal is CountRefusal.OVERFLOW
    assert count_change(reading(1000), reading(900), 0.0).refusal is CountRefusal.BAD_UNIT_WEIGHT
    refused = count_change(reading(1000), reading(940), UNIT)
    assert not refused.ok and "2.40" in refused.detail
