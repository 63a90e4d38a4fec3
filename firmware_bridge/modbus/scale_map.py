"""Register maps of Modbus load-cell transmitters: where the weight and status live and how to decode them.

The same map encodes (simulator) and decodes (driver), so both sides agree by construction; presets for real
transmitter families live in `scale_presets.py`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from firmware_bridge.errors import ConfigError

WEIGHT_FORMATS = ("int32", "uint32", "float32", "int16", "uint16")
WORD_ORDERS = ("high_first", "low_first")
TABLES = ("holding", "input")


@dataclass(frozen=True, slots=True)
class ScaleRegisterMap:
    """Where a transmitter keeps its weight, status and command registers (0-based wire addresses)."""

    weight_address: int
    weight_format: str = "int32"  # int32 | uint32 | float32 | int16 | uint16
    word_order: str = "high_first"  # high_first: the register at weight_address holds the high word
    weight_table: str = "holding"  # holding (function 03) | input (function 04)
    decimals: int = 0  # integer formats: raw / 10**decimals is the value in the instrument's unit
    unit_grams: float = 1.0  # grams per instrument unit (1000 for kg)
    status_address: int | None = None  # None: no status word (readings are then never stable)
    status_table: str = "holding"
    stable_bit: int | None = None
    stable_when_set: bool = True  # False for a "motion" bit
    zero_bit: int | None = None
    sign_bit: int | None = None  # set = the weight is negative (for magnitudes sent without a sign)
    overflow_mask: int = 0  # any of these status bits set = over/underload or a weighing error
    command_address: int | None = None
    command_function: int = 6  # 6 (write single register) or 16 (write multiple registers)
    zero_code: int | None = None
    tare_code: int | None = None

    @property
    def weight_words(self) -> int:
        return 1 if self.weight_format in ("int16", "uint16") else 2

    # -- decoding (driver) ---------------------------------------------------------------------------------
    def raw_from_words(self, words: list[int]) -> int:
        """The 32-bit (or 16-bit) pattern as it travels, high word first after the word-order fix."""
        if self.weight_words == 1:
            return words[0]
        high, low = (words[0], words[1]) if self.word_order == "high_first" else (words[1], words[0])
        return high << 16 | low

    def value_from_raw(self, raw: int, status: int) -> float:
        """The weight in grams for a raw pattern and a status word."""
        if self.weight_format == "float32":
            value = struct.unpack(">f", struct.pack(">I", raw))[0]
        else:
            value = float(raw)
            if self.weight_format == "int32" and raw & 0x8000_0000:
                value -= 1 << 32
            elif self.weight_format == "int16" and raw & 0x8000:
                value -= 1 << 16
            value /= 10**self.decimals
        if self.sign_bit is not None and status >> self.sign_bit & 1 and value > 0:
            value = -value
        return value * self.unit_grams

    def flags(self, status: int) -> tuple[bool, bool]:
        """(stable, overflow) from a status word."""
        stable = False
        if self.stable_bit is not None:
            stable = bool(status >> self.stable_bit & 1) == self.stable_when_set
        return stable, bool(status & self.overflow_mask)

    # -- encoding (simulator) --------------------------------------------------------------------------------
    def words_from_grams(self, grams: float, status: int) -> tuple[list[int], int]:
        """Registers for a weight, and the status word with the sign bit set when the map sends magnitudes."""
        value = grams / self.unit_grams
        if self.sign_bit is not None and self.weight_format in ("uint32", "uint16"):
            if value < 0:
                status |= 1 << self.sign_bit
            value = abs(value)
        elif self.sign_bit is not None and value < 0:
            status |= 1 << self.sign_bit
        if self.weight_format == "float32":
            raw = struct.unpack(">I", struct.pack(">f", value))[0]
        else:
            bits = 16 if self.weight_words == 1 else 32
            raw = round(value * 10**self.decimals) & ((1 << bits) - 1)
        if self.weight_words == 1:
            return [raw], status
        high, low = raw >> 16, raw & 0xFFFF
        return ([high, low] if self.word_order == "high_first" else [low, high]), status

    def status_word(self, stable: bool, zero: bool, overflow: bool) -> int:
        status = 0
        if self.stable_bit is not None and stable == self.stable_when_set:
            status |= 1 << self.stable_bit
        if self.zero_bit is not None and zero:
            status |= 1 << self.zero_bit
        if overflow and self.overflow_mask:
            status |= self.overflow_mask & -self.overflow_mask  # the lowest overflow bit
        return status

    # -- configuration -------------------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any], field: str = "register_map") -> ScaleRegisterMap:
        """A copy with some fields replaced; validates every value and names the field that is wrong."""
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"{field}: expected an object of register map fields")
        known = {f.name: f for f in fields(self)}
        for key in overrides:
            if key not in known:
                raise ConfigError(f"{field}.{key}: unknown field; expected one of {', '.join(sorted(known))}")
        updated = replace(self, **dict(overrides))
        updated.validate(field)
        return updated

    def validate(self, field: str = "register_map") -> None:
        def check(name: str, ok: bool, why: str) -> None:
            if not ok:
                raise ConfigError(f"{field}.{name}: {getattr(self, name)!r} {why}")

        def is_int(value: object) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        for name in ("weight_address", "status_address", "command_address"):
            value = getattr(self, name)
            check(name, value is None or (is_int(value) and 0 <= value <= 0xFFFF), "is not a register 0-65535")
        check("weight_address", self.weight_address is not None, "is required")
        check("weight_format", self.weight_format in WEIGHT_FORMATS, f"is not one of {', '.join(WEIGHT_FORMATS)}")
        check("word_order", self.word_order in WORD_ORDERS, f"is not one of {', '.join(WORD_ORDERS)}")
        check("weight_table", self.weight_table in TABLES, "is not 'holding' or 'input'")
        check("status_table", self.status_table in TABLES, "is not 'holding' or 'input'")
        check("decimals", is_int(self.decimals) and 0 <= self.decimals <= 6, "is not 0-6")
        check(
            "unit_grams",
            isinstance(self.unit_grams, int | float) and math.isfinite(self.unit_grams) and self.unit_grams > 0,
            "is not a positive number of grams per unit",
        )
        for name in ("stable_bit", "zero_bit", "sign_bit"):
            value = getattr(self, name)
            check(name, value is None or (is_int(value) and 0 <= value <= 15), "is not a bit 0-15")
        check("overflow_mask", is_int(self.overflow_mask) and 0 <= self.overflow_mask <= 0xFFFF, "is not 0-0xFFFF")
        check("command_function", self.command_function in (6, 16), "is not 6 or 16")
        for name in ("zero_code", "tare_code"):
            value = getattr(self, name)
            check(name, value is None or (is_int(value) and 0 <= value <= 0xFFFF), "is not a 16-bit code")
