"""Line settings from configuration, and the wire-time arithmetic timeouts are built from."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.transport.line import LineSettings, bits_per_char, wire_time


def test_wire_time_counts_start_parity_and_stop_bits() -> None:
    assert bits_per_char() == 10
    assert bits_per_char(8, "E", 1) == 11
    assert wire_time(5, 19200) == pytest.approx(5 * 10 / 19200)
    assert wire_time(9, 57600, parity="E", stop_bits=2) == pytest.approx(9 * 12 / 57600)


def test_reply_timeout_is_wire_time_of_both_frames_plus_the_budget() -> None:
    line = LineSettings("loop://", baud=19200)
    assert line.reply_timeout(5, 9, 0.1) == pytest.approx(14 * 10 / 19200 + 0.1)
    assert line.turnaround == pytest.approx(3.5 * 10 / 19200)
    assert LineSettings("loop://", turnaround_ms=0).turnaround == 0


def test_from_config_reads_every_field() -> None:
    line = LineSettings.from_config(
        {"port": "socket://10.0.0.5:4001", "baud": 9600, "parity": "even", "stop_bits": 2, "rs485": True},
        default_baud=19200,
    )
    assert line == LineSettings("socket://10.0.0.5:4001", 9600, "E", 2, 8, True, None)
    assert LineSettings.from_config({"port": "/dev/ttyUSB0"}, default_baud=57600).baud == 57600


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "line.port"),
        ({"port": ""}, "line.port"),
        ({"port": "x", "baud": "fast"}, "line.baud"),
        ({"port": "x", "baud": -1}, "line.baud"),
        ({"port": "x", "parity": "Q"}, "line.parity"),
        ({"port": "x", "stop_bits": 3}, "line.stop_bits"),
        ({"port": "x", "byte_size": 9}, "line.byte_size"),
        ({"port": "x", "rs485": "yes"}, "line.rs485"),
        ({"port": "x", "turnaround_ms": -2}, "line.turnaround_ms"),
        ({"port": "x", "baud": True}, "line.baud"),
    ],
)
def test_bad_values_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        LineSettings.from_config(raw, default_baud=19200)


@pytest.mark.parametrize("port", ["/dev/tty\x00USB0", "x" * 1025, "/dev/ttyUSB0\n"])
def test_a_port_with_control_characters_or_too_long_is_refused(port: str) -> None:
    with pytest.raises(ConfigError, match="port must be a printable device path"):
        LineSettings.from_config({"port": port}, default_baud=9600, where="kerong")
