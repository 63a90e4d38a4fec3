"""Register-map presets for real load-cell transmitter families, from their published Modbus tables.

Addresses are 0-based wire addresses (manual register 4xxxx minus 40001). Decimals and unit follow each
instrument's own calibration, so a site overrides `decimals`/`unit_grams` to match its set-up; see
docs/hardware.md ("Modbus weigh-scale bins") for the sources and what could not be confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.modbus.scale_map import ScaleRegisterMap

PRESETS: dict[str, ScaleRegisterMap] = {
    # Dini Argeo DGT4X weight transmitter, "Modbus registers for data reading, multiscale", scale 1:
    # 40202 status (bit0 gross sign, bit1 stable, bit2 underload, bit3 overload, bit4 gross zero zone,
    # bit5 net sign, bit6 tare active), 40203-40204 gross weight; 40001 command register
    # (0x01 zero, 0x02 tare). Weight sent without sign (the status carries it), high word first.
    "dini_argeo_dgt4x": ScaleRegisterMap(
        weight_address=202,
        weight_format="uint32",
        word_order="high_first",
        decimals=3,
        unit_grams=1000.0,
        status_address=201,
        stable_bit=1,
        stable_when_set=True,
        zero_bit=4,
        sign_bit=0,
        overflow_mask=0b1100,
        command_address=0,
        command_function=16,
        zero_code=0x01,
        tare_code=0x02,
    ),
    # PT Global PT113 (same table in the Baykon MX08 "Modbus RTU command set 1"): 40001-40002 weight
    # (net when in net mode), 40003 status (D2 = 1 while the weight is unstable, D12 centre of zero,
    # D13-D15 error code: ADC out of range / over range / under range ...), 40009 control (1 zero, 2 tare).
    "pt_global_pt113": ScaleRegisterMap(
        weight_address=0,
        weight_format="int32",
        word_order="high_first",
        decimals=0,
        unit_grams=1.0,
        status_address=2,
        stable_bit=2,
        stable_when_set=False,
        zero_bit=12,
        overflow_mask=0xE000,
        command_address=8,
        command_function=6,
        zero_code=1,
        tare_code=2,
    ),
    # A float transmitter with the low word first (a layout several converters offer, e.g. Seneca Z-SG-L
    # with its word swap set); handy for testing the word-order path. Not tied to one model's table.
    "generic_float_low_first": ScaleRegisterMap(
        weight_address=0,
        weight_format="float32",
        word_order="low_first",
        unit_grams=1.0,
        status_address=2,
        stable_bit=0,
        zero_bit=1,
        sign_bit=None,
        overflow_mask=0b100,
        command_address=3,
        command_function=6,
        zero_code=1,
        tare_code=2,
    ),
}


def register_map_from_config(raw: Mapping[str, Any]) -> ScaleRegisterMap:
    """`{"preset": "dini_argeo_dgt4x", "register_map": {"decimals": 1, ...}}`; either key may stand alone."""
    preset_name = raw.get("preset")
    overrides = raw.get("register_map", {})
    if preset_name is None:
        if not overrides:
            raise ConfigError(f"preset: missing; give one of {', '.join(sorted(PRESETS))} or a full register_map")
        base = ScaleRegisterMap(weight_address=-1)
        if "weight_address" not in overrides:
            raise ConfigError("register_map.weight_address: missing (no preset given)")
        return base.with_overrides(overrides)
    if preset_name not in PRESETS:
        raise ConfigError(f"preset: {preset_name!r} is not one of {', '.join(sorted(PRESETS))}")
    return PRESETS[preset_name].with_overrides(overrides)
