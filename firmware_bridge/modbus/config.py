"""Bus configuration for Modbus drivers (plain dicts in, frozen values out) and the validators they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.modbus.rtu import LineTiming

PARITIES = ("N", "E", "O")


@dataclass(frozen=True, slots=True)
class BusConfig:
    """Where a Modbus bus is and how to talk to it.

    `url` is `tcp://HOST:PORT` for Modbus TCP; anything else is a pyserial URL for Modbus RTU
    (`/dev/ttyUSB0`, a pty path, `socket://HOST:PORT` for RTU over a serial-to-TCP gateway, `rfc2217://...`).
    """

    url: str
    baudrate: int = 9600
    parity: str = "N"
    bytesize: int = 8
    stopbits: int = 1
    timeout: float = 0.5  # per attempt: how long a device gets to answer
    retries: int = 2  # extra attempts after a timeout or a lost connection (exception replies are not retried)
    reconnect_min: float = 0.1  # first wait after a failed connect; doubles up to reconnect_max
    reconnect_max: float = 5.0

    @property
    def is_tcp(self) -> bool:
        return self.url.startswith("tcp://")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.url.removeprefix("tcp://").rpartition(":")
        return host, int(port)

    @property
    def timing(self) -> LineTiming:
        return LineTiming(self.baudrate, self.bytesize, self.parity, self.stopbits)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], field: str = "bus") -> BusConfig:
        """Validate a dict such as `{"url": "tcp://10.0.0.5:502"}` or `{"url": "/dev/ttyUSB0", "baudrate": 9600}`."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{field}: expected an object with at least 'url', got {type(raw).__name__}")
        known = {"url", "baudrate", "parity", "bytesize", "stopbits", "timeout", "retries"}
        known |= {"reconnect_min", "reconnect_max"}
        reject_unknown(raw, known, field)
        url = require(raw, "url", str, field)
        if not url:
            raise ConfigError(f"{field}.url: empty; give tcp://HOST:PORT or a serial port such as /dev/ttyUSB0")
        if url.startswith("tcp://"):
            host, _, port = url.removeprefix("tcp://").rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"{field}.url: {url!r} is not tcp://HOST:PORT (port 1-65535)")
        parity = str(raw.get("parity", "N")).upper()
        if parity not in PARITIES:
            raise ConfigError(f"{field}.parity: {raw.get('parity')!r} is not one of N, E, O")
        config = cls(
            url=url,
            baudrate=int_in(raw, "baudrate", 9600, 300, 1_000_000, field),
            parity=parity,
            bytesize=int_in(raw, "bytesize", 8, 7, 8, field),
            stopbits=int_in(raw, "stopbits", 1, 1, 2, field),
            timeout=float_in(raw, "timeout", 0.5, 0.01, 30.0, field),
            retries=int_in(raw, "retries", 2, 0, 10, field),
            reconnect_min=float_in(raw, "reconnect_min", 0.1, 0.0, 60.0, field),
            reconnect_max=float_in(raw, "reconnect_max", 5.0, 0.0, 600.0, field),
        )
        if config.reconnect_max < config.reconnect_min:
            raise ConfigError(f"{field}.reconnect_max: must be >= reconnect_min ({config.reconnect_min:g})")
        return config


def reject_unknown(raw: Mapping[str, Any], known: set[str], field: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{field}.{unknown[0]}: unknown setting; expected one of {', '.join(sorted(known))}")


def require(raw: Mapping[str, Any], key: str, kind: type, field: str) -> Any:
    if key not in raw:
        raise ConfigError(f"{field}.{key}: missing")
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{field}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def int_in(raw: Mapping[str, Any], key: str, default: int | None, low: int, high: int, field: str) -> int:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"{field}.{key}: missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}.{key}: expected a whole number {low}-{high}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{field}.{key}: {value} is outside {low}-{high}")
    return value


def float_in(raw: Mapping[str, Any], key: str, default: float | None, low: float, high: float, field: str) -> float:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"{field}.{key}: missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{field}.{key}: expected a number {low:g}-{high:g}, got {value!r}")
    if not low <= float(value) <= high:
        raise ConfigError(f"{field}.{key}: {value} is outside {low:g}-{high:g}")
    return float(value)
