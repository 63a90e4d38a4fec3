"""The VMC simulator polls on time, resends unacknowledged data, and its CLI prints the URL first."""

from __future__ import annotations

import time

import serial
from click.testing import CliRunner

from firmware_bridge.coil.codec import (
    ACK_FRAME,
    DISPENSE_STATUS,
    POLL,
    CoilScanner,
    decode,
    dispense_report,
    encode_drive,
)
from firmware_bridge.sim.coil import CoilMachineSim
from firmware_bridge.sim.coil_cli import command


def test_a_silent_host_sees_polls_and_a_driven_selection_reports() -> None:
    with CoilMachineSim(range(1, 4), poll_interval=0.05, vend_time=0.05, start_delay=0.01) as vmc:
        port = serial.serial_for_url(vmc.url, baudrate=57600, timeout=0.05)
        scanner = CoilScanner()
        frames = []
        sent_drive = False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len([f for f in frames if f.command == DISPENSE_STATUS]) < 2:
            for raw in scanner.feed(port.read(port.in_waiting or 1)):
                frame = decode(raw)
                frames.append(frame)
                if frame.command == POLL and not sent_drive:
                    port.write(encode_drive(1, 2))
                    sent_drive = True
                elif frame.command != POLL and frame.command != 0x42:
                    port.write(ACK_FRAME)
        port.close()
    reports = [dispense_report(f) for f in frames if f.command == DISPENSE_STATUS]
    assert [(r.status, r.selection) for r in reports] == [(0x01, 2), (0x02, 2)]
    assert vmc.runs(2) == 1 and any(f.command == 0x42 for f in frames)


def test_cli_prints_the_url_first() -> None:
    result = CliRunner().invoke(command, ["--duration", "0.2", "--outcome", "3=jam"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("/dev/")
    result = CliRunner().invoke(command, ["--duration", "0.2", "--tcp", "127.0.0.1:0"])
    assert result.output.splitlines()[0].startswith("socket://127.0.0.1:")


def test_cli_rejects_an_unknown_outcome() -> None:
    result = CliRunner().invoke(command, ["--outcome", "3=explode"])
    assert result.exit_code != 0 and "unknown outcome" in result.output
