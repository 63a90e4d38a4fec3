"""Configuration from plain dicts (errors name the field), register-map encode/decode, CRC and timing literals."""

from __future__ import annotations

import re
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import ConfigError
from firmware_bridge.modbus.config import BusConfig
from firmware_bridge.modbus.relay_locker import RelayLockerConfig
from firmware_bridge.modbus.rtu import LineTiming, crc_ok, with_crc
from firmware_bridge.modbus.scale import ScaleConfig
from firmware_bridge.modbus.scale_map import ScaleRegisterMap
from firmware_bridge.modbus.scale_presets import PRESETS

BUS = {"url": "/dev/ttyUSB0", "baudrate": 9600}
SLOTS = {"A1": {"device_id": 1, "relay": 0, "door_input": 0}}


def test_relay_locker_config_round_trip() -> None:
    config = RelayLockerConfig.from_config({"bus": BUS, "pulse_ms": 800, "slots": {"A1": {"device_id": 3, "relay": 5}}})
    assert config.bus == BusConfig(url="/dev/ttyUSB0", baudrate=9600)
    assert config.pulse_ms == 800
    (slot,) = config.slots
    assert (slot.slot, slot.device_id, slot.relay, slot.door_input) == ("A1", 3, 5, 5)  # door input defaults to relay


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"bus": {"baudrate": 9600}, "slots": SLOTS}, "bus.url"),
        ({"bus": {"url": "tcp://host"}, "slots": SLOTS}, "bus.url"),
        ({"bus": {**BUS, "parity": "X"}, "slots": SLOTS}, "bus.parity"),
        ({"bus": {**BUS, "baud": 9600}, "slots": SLOTS}, "bus.baud"),
        ({"bus": BUS, "slots": SLOTS, "pulse_ms": 250}, "pulse_ms"),
        ({"bus": BUS, "slots": SLOTS, "door_input_on": "high"}, "door_input_on"),
        ({"bus": BUS, "slots": {}}, "slots"),
        ({"bus": BUS, "slots": {"A1": {"device_id": 0, "relay": 0}}}, "slots.A1.device_id"),
        ({"bus": BUS, "slots": {"A1": {"device_id": 1, "relay": 8}}}, "slots.A1.relay"),
        ({"bus": BUS, "slots": {"A1": {"device_id": 1, "relay": "2"}}}, "slots.A1.relay"),
        (
            {"bus": BUS, "slots": {"A1": {"device_id": 1, "relay": 2}, "A2": {"device_id": 1, "relay": 2}}},
            "slots.A2.relay",
        ),
    ],
)
def test_relay_locker_config_errors_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(field) + ":"):
        RelayLockerConfig.from_config(raw)


def test_scale_config_with_preset_and_overrides() -> None:
    config = ScaleConfig.from_config(
        {
            "bus": {"url": "tcp://10.0.0.5:502"},
            "device_id": 2,
            "preset": "pt_global_pt113",
            "register_map": {"decimals": 1},
        }
    )
    assert config.register_map.decimals == 1
    assert config.register_map.command_address == PRESETS["pt_global_pt113"].command_address
    assert config.bus.is_tcp and config.bus.host_port == ("10.0.0.5", 502)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"preset": "acme"}, "preset"),
        ({}, "preset"),
        ({"preset": "pt_global_pt113", "register_map": {"word_order": "middle"}}, "register_map.word_order"),
        ({"preset": "pt_global_pt113", "register_map": {"stable_bit": 16}}, "register_map.stable_bit"),
        ({"preset": "pt_global_pt113", "register_map": {"colour": 1}}, "register_map.colour"),
        ({"preset": "pt_global_pt113", "register_map": {"command_function": 5}}, "register_map.command_function"),
        ({"register_map": {"weight_format": "float32"}}, "register_map.weight_address"),
    ],
)
def test_scale_config_errors_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(field) + ":"):
        ScaleConfig.from_config({"bus": BUS, "device_id": 1, **raw})


def test_crc_matches_published_frames() -> None:
    # Relay 1 on for a board at address 0xFF, and "all relays on" with function 0F (from vendor examples).
    assert with_crc(bytes.fromhex("FF 05 00 00 FF 00")) == bytes.fromhex("FF 05 00 00 FF 00 99 E4")
    assert with_crc(bytes.fromhex("FF 0F 00 00 00 08 01 FF")) == bytes.fromhex("FF 0F 00 00 00 08 01 FF 30 1D")
    assert crc_ok(bytes.fromhex("FF 02 01 01 51 A0"))  # an optocoupler-input reply
    assert not crc_ok(bytes.fromhex("FF 02 01 01 51 A1"))


def test_line_timing_at_9600_8n1() -> None:
    line = LineTiming(9600)
    assert line.char_time == pytest.approx(10 / 9600)
    assert line.t35 == pytest.approx(3.5 * 10 / 9600)
    assert line.inter_frame_gap == pytest.approx(3.5 * 10 / 9600 + 0.001)
    assert LineTiming(115200).t35 == pytest.approx(0.00175)  # fixed above 19200 baud
    assert LineTiming(9600, parity="E").bits_per_char == 11


@settings(max_examples=300, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    grams=st.floats(min_value=-20_000, max_value=20_000, allow_nan=False),
    stable=st.booleans(),
)
def test_register_maps_decode_what_they_encode(preset: str, grams: float, stable: bool) -> None:
    """Property: for every preset, decode(encode(w)) == w within the map's resolution. On failure hypothesis
    prints the falsifying example; re-run with that preset/grams to reproduce."""
    regmap: ScaleRegisterMap = PRESETS[preset]
    words, status = regmap.words_from_grams(grams, regmap.status_word(stable, False, False))
    raw = regmap.raw_from_words(words)
    resolution = regmap.unit_grams / 10**regmap.decimals if regmap.weight_format != "float32" else abs(grams) * 1e-6
    assert regmap.value_from_raw(raw, status) == pytest.approx(grams, abs=resolution / 2 + 1e-9)
    assert regmap.flags(status) == (stable, False)


def test_word_order_is_applied() -> None:
    regmap = PRESETS["generic_float_low_first"]
    words, _ = regmap.words_from_grams(1.5, 0)
    high, low = struct.unpack(">HH", struct.pack(">f", 1.5))
    assert words == [low, high]
    assert regmap.raw_from_words(words) == high << 16 | low
