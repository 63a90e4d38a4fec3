"""Builds raw advertising data for beacon frames: for simulators, tests and benchmarks."""

from __future__ import annotations

import struct

_FLAGS = bytes.fromhex("020106")


def ibeacon_advert(uuid_hex: str, major: int, minor: int, power_1m: int = -59) -> bytes:
    """Flags + Apple manufacturer data `4C 00 02 15 UUID MAJOR MINOR POWER`."""
    uuid = bytes.fromhex(uuid_hex.replace("-", ""))
    if len(uuid) != 16:
        raise ValueError(f"uuid must be 16 bytes of hex, got {len(uuid)}")
    body = b"\xff\x4c\x00\x02\x15" + uuid + struct.pack(">HHb", major, minor, power_1m)
    return _FLAGS + bytes([len(body)]) + body


def eddystone_tlm_advert(battery_mv: int, temperature_c: float, adverts: int = 0, uptime_s: float = 0.0) -> bytes:
    """Flags + complete 16-bit UUID list (FEAA) + service data TLM v0 (temperature as signed 8.8)."""
    frame = struct.pack(">BBHhII", 0x20, 0, battery_mv, round(temperature_c * 256), adverts, round(uptime_s * 10))
    body = b"\x16\xaa\xfe" + frame
    return _FLAGS + bytes.fromhex("0303aafe") + bytes([len(body)]) + body


def eddystone_uid_advert(namespace_hex: str, instance_hex: str, power_0m: int = -18) -> bytes:
    frame = bytes([0x00, power_0m & 0xFF]) + bytes.fromhex(namespace_hex) + bytes.fromhex(instance_hex) + b"\x00\x00"
    body = b"\x16\xaa\xfe" + frame
    return _FLAGS + bytes.fromhex("0303aafe") + bytes([len(body)]) + body


def parse_ibeacon_key(tag_key: str) -> tuple[str, int, int]:
    """`ib-<uuid>-<major>-<minor>` back to its parts (to re-encode a simulated tag)."""
    prefix, uuid_hex, major, minor = tag_key.split("-")
    if prefix != "ib":
        raise ValueError(f"not an iBeacon tag key: {tag_key!r}")
    return uuid_hex, int(major), int(minor)
