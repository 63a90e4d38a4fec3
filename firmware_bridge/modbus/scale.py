"""A weigh-scale bin on a Modbus load-cell transmitter, as a `Scale`: read() -> WeightReading, tare(), zero()."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.config import BusConfig, int_in, reject_unknown
from firmware_bridge.modbus.scale_map import ScaleRegisterMap
from firmware_bridge.modbus.scale_presets import register_map_from_config
from firmware_bridge.protocols import WeightReading


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    bus: BusConfig
    device_id: int
    register_map: ScaleRegisterMap

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ScaleConfig:
        """`{"bus": {...}, "device_id": 3, "preset": "dini_argeo_dgt4x", "register_map": {"decimals": 1}}`."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"scale config: expected an object, got {type(raw).__name__}")
        reject_unknown(raw, {"bus", "device_id", "preset", "register_map"}, "scale")
        return cls(
            BusConfig.from_config(raw.get("bus"), "bus"),  # type: ignore[arg-type]
            int_in(raw, "device_id", None, 1, 247, "scale"),
            register_map_from_config(raw),
        )


class ModbusScale:
    """One transmitter on a (possibly shared) Modbus bus. Implements `firmware_bridge.protocols.Scale`."""

    def __init__(self, config: ScaleConfig, bus: ModbusBus | None = None) -> None:
        self.config = config
        self.map = config.register_map
        self.device_id = config.device_id
        self.bus = bus if bus is not None else ModbusBus.shared(config.bus)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ModbusScale:
        return cls(ScaleConfig.from_config(raw))

    def read(self) -> WeightReading:
        """One weight and status read; `raw` is the weight registers' bit pattern (high word first)."""
        m = self.map
        status = 0
        status_in_block = (
            m.status_address is not None
            and m.status_table == m.weight_table
            and abs(m.status_address - m.weight_address) <= 4
        )
        if status_in_block:
            assert m.status_address is not None
            start = min(m.status_address, m.weight_address)
            end = max(m.status_address + 1, m.weight_address + m.weight_words)
            block = self._read(m.weight_table, start, end - start)
            words = block[m.weight_address - start : m.weight_address - start + m.weight_words]
            status = block[m.status_address - start]
        else:
            words = self._read(m.weight_table, m.weight_address, m.weight_words)
            if m.status_address is not None:
                status = self._read(m.status_table, m.status_address, 1)[0]
        raw = m.raw_from_words(words)
        stable, overflow = m.flags(status)
        return WeightReading(grams=m.value_from_raw(raw, status), stable=stable, overflow=overflow, raw=raw)

    def read_stable(self, timeout: float = 3.0, interval: float = 0.05) -> WeightReading:
        """Read until the transmitter says stable (or overflowed), at most `timeout` s; returns the last reading."""
        deadline = time.monotonic() + timeout
        while True:
            reading = self.read()
            if reading.stable or reading.overflow or time.monotonic() >= deadline:
                return reading
            time.sleep(interval)

    def tare(self) -> None:
        self._command("tare", self.map.tare_code)

    def zero(self) -> None:
        self._command("zero", self.map.zero_code)

    def close(self) -> None:
        self.bus.close()

    def _command(self, name: str, code: int | None) -> None:
        m = self.map
        if m.command_address is None or code is None:
            raise ConfigError(f"register_map.{name}_code: this transmitter's map has no {name} command configured")
        if m.command_function == 16:
            self.bus.write_registers(self.device_id, m.command_address, [code])
        else:
            self.bus.write_register(self.device_id, m.command_address, code)

    def _read(self, table: str, address: int, count: int) -> list[int]:
        reader: Callable[[int, int, int], list[int]] = (
            self.bus.read_holding_registers if table == "holding" else self.bus.read_input_registers
        )
        return reader(self.device_id, address, count)
