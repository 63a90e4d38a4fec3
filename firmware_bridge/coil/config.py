"""Configuration of a coil (spiral) vending controller on the VMC ↔ host protocol (RS-232, 57600 8N1 by default).

Stored by vending as JSON in a machine row, e.g.::

    {"port": "/dev/ttyS1", "baud": 57600, "vend_timeout_s": 30, "max_resends": 5,
     "offline_after_s": 1.0, "drop_sensor": true, "elevator": false}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.transport.line import LineSettings, optional


@dataclass(frozen=True, slots=True)
class CoilConfig:
    line: LineSettings
    vend_timeout: float = 30.0  # seconds from the drive command to a final dispense status
    status_timeout: float = 2.0  # seconds to wait for a selection-status answer
    max_resends: int = 5  # the protocol allows up to 5 resends of an unacknowledged packet
    offline_after: float = 1.0  # no POLL for this long = the controller is offline (it polls every 200 ms)
    drop_sensor: bool = True  # ask the VMC to confirm the drop with its drop sensor
    elevator: bool = False  # machines with a lift: ask the VMC to use it

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> CoilConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError("coil config must be a JSON object with at least a port")
        line = LineSettings.from_config(raw, default_baud=57600, where="coil")
        if raw.get("turnaround_ms") is None:  # RS-232 is full duplex: nothing to turn around
            line = replace(line, turnaround_ms=0.0)
        vend_timeout = _positive(raw, "vend_timeout_s", 30.0)
        status_timeout = _positive(raw, "status_timeout_s", 2.0)
        offline_after = _positive(raw, "offline_after_s", 1.0)
        resends = optional(raw, "max_resends", int, 5, "coil")
        if not 0 <= resends <= 5:
            raise ConfigError(f"coil.max_resends={resends} must be 0..5 (the protocol allows at most 5 resends)")
        drop_sensor = optional(raw, "drop_sensor", bool, True, "coil")
        elevator = optional(raw, "elevator", bool, False, "coil")
        return cls(line, vend_timeout, status_timeout, resends, offline_after, drop_sensor, elevator)


def _positive(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = optional(raw, key, (int, float), default, "coil")
    if value <= 0:
        raise ConfigError(f"coil.{key}={value} must be a positive number of seconds")
    return float(value)
