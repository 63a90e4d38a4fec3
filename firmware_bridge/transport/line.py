"""Serial line settings (URL, baud, parity, stop bits, RS-485) and the wire-time arithmetic drivers time out by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware_bridge.errors import ConfigError

PARITIES = {"N": "none", "E": "even", "O": "odd", "M": "mark", "S": "space"}
STOP_BITS = (1, 1.5, 2)
BYTE_SIZES = (5, 6, 7, 8)


def bits_per_char(byte_size: int = 8, parity: str = "N", stop_bits: float = 1) -> float:
    """Bits on the wire for one character: start bit + data bits + parity bit (if any) + stop bits."""
    return 1 + byte_size + (0 if parity == "N" else 1) + stop_bits


def wire_time(n_bytes: int, baud: int, byte_size: int = 8, parity: str = "N", stop_bits: float = 1) -> float:
    """Seconds `n_bytes` take on a line at `baud` (a pty ignores baud, so simulators model this themselves)."""
    return n_bytes * bits_per_char(byte_size, parity, stop_bits) / baud


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Where and how to open a line. `url` is anything pyserial's serial_for_url accepts.

    `turnaround_ms` is the quiet time kept between the last byte received and the next request
    (an RS-485 transceiver must switch from transmit to receive); `None` means 3.5 character times.
    `rs485` asks the OS driver to toggle RTS for direction (fails on ptys and most USB adapters do it
    in hardware, so it is off by default).
    """

    url: str
    baud: int = 19200
    parity: str = "N"
    stop_bits: float = 1
    byte_size: int = 8
    rs485: bool = False
    turnaround_ms: float | None = None

    @property
    def char_time(self) -> float:
        return bits_per_char(self.byte_size, self.parity, self.stop_bits) / self.baud

    @property
    def turnaround(self) -> float:
        if self.turnaround_ms is None:
            return 3.5 * self.char_time
        return self.turnaround_ms / 1000.0

    def wire_time(self, n_bytes: int) -> float:
        return n_bytes * self.char_time

    def reply_timeout(self, request_len: int, reply_len: int, response_budget: float) -> float:
        """Time to wait for a reply: both frames on the wire plus the device's own response budget."""
        return self.wire_time(request_len + reply_len) + response_budget

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], *, default_baud: int, where: str = "line") -> LineSettings:
        url = require(raw, "port", str, where)
        if not url.strip():
            raise ConfigError(f"{where}.port is empty: give a device path, socket://host:port or loop://")
        if len(url) > 1024 or not url.isprintable():
            raise ConfigError(
                f"{where}.port must be a printable device path or URL of at most 1024 characters "
                "(no control characters), e.g. /dev/serial/by-id/usb-FTDI-if00-port0"
            )
        baud = optional(raw, "baud", int, default_baud, where)
        if baud <= 0 or baud > 4_000_000:
            raise ConfigError(f"{where}.baud={baud} is not a usable baud rate (e.g. 9600, 19200, 57600)")
        parity = str(optional(raw, "parity", str, "N", where)).upper()[:1]
        if parity not in PARITIES:
            raise ConfigError(f"{where}.parity={raw.get('parity')!r}: use one of N, E, O, M, S")
        stop_bits = optional(raw, "stop_bits", (int, float), 1, where)
        if stop_bits not in STOP_BITS:
            raise ConfigError(f"{where}.stop_bits={stop_bits!r}: use 1, 1.5 or 2")
        byte_size = optional(raw, "byte_size", int, 8, where)
        if byte_size not in BYTE_SIZES:
            raise ConfigError(f"{where}.byte_size={byte_size!r}: use 5, 6, 7 or 8")
        rs485 = optional(raw, "rs485", bool, False, where)
        turnaround = raw.get("turnaround_ms")
        if turnaround is not None and (not isinstance(turnaround, int | float) or turnaround < 0):
            raise ConfigError(f"{where}.turnaround_ms={turnaround!r}: give milliseconds >= 0 or leave it out")
        return cls(url, baud, parity, stop_bits, byte_size, rs485, None if turnaround is None else float(turnaround))


def require(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Return raw[key], raising ConfigError naming `where.key` when it is missing or of the wrong type."""
    if key not in raw:
        raise ConfigError(f"{where}.{key} is missing")
    return _typed(raw[key], key, kind, where)


def optional(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    if key not in raw or raw[key] is None:
        return default
    return _typed(raw[key], key, kind, where)


def _typed(value: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{where}.{key}={value!r} must be {_names(kinds)}, not a boolean")
    if not isinstance(value, kinds):
        raise ConfigError(f"{where}.{key}={value!r} must be {_names(kinds)}")
    return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(
        {"int": "an integer", "float": "a number", "str": "a string", "bool": "true/false"}.get(k.__name__, k.__name__)
        for k in kinds
    )
