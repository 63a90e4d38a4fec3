"""The XOR lock-board simulator answers hand-built frames from public sources byte-exactly (bare pyserial),
and `vendtrack sim xorboard` prints the URL first and serves a driver from its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import serial
from click.testing import CliRunner

from firmware_bridge.protocols import DoorOutcome
from firmware_bridge.sim.xorboard import XorBoardSim
from firmware_bridge.sim.xorboard_cli import command
from firmware_bridge.xorboard import XorBoardLockerBus
from tests.support import read_until, wait_until


def _exchange(url: str, request_hex: str, wait: float = 2.0, size: int = 5) -> str:
    """The reply to a request: returned once `size` bytes came, or what came within `wait` s (silence: "")."""
    port = serial.serial_for_url(url, baudrate=9600, timeout=0.02)
    try:
        port.write(bytes.fromhex(request_hex))
        return read_until(port, lambda got: len(got) >= size, wait).hex(" ")
    finally:
        port.close()


def test_public_frames_are_answered_byte_exactly() -> None:
    with XorBoardSim(boards=(1,), channels=8, status_bytes=3, model_wire_time=False, unlock_delay=0.02) as sim:
        assert _exchange(sim.url, "80 01 00 33 b2", size=7) == "80 01 00 00 00 33 b2"  # Open-Locker's 8-channel board
        assert _exchange(sim.url, "80 01 01 33 b3") == "80 01 01 11 91"  # ETexsys: door closed
        assert _exchange(sim.url, "8a 01 01 11 9b") == "8a 01 01 00 8a"  # ETexsys / Open-Locker success frame
        wait_until(lambda: sim.lock(1, 1).door_open, what="the door to pop open after the unlock pulse")
        assert _exchange(sim.url, "80 01 01 33 b3") == "80 01 01 00 80"  # ETexsys: door open
        assert sim.unlock_count(1, 1) == 1


def test_kotlin_capture_layout_and_a_stuck_lock() -> None:
    with XorBoardSim(boards=(1,), channels=24, model_wire_time=False) as sim:  # default: a set bit is an open door
        sim.open_door(1, 2)
        assert _exchange(sim.url, "80 01 00 33 b2", size=7) == "80 01 00 00 02 33 b0"  # "锁2开"
        sim.set_stuck(1, 7)
        assert _exchange(sim.url, "8a 01 07 11 9d") == "8a 01 07 11 9d"  # failure frame: still locked


def test_absent_boards_and_locks_stay_silent_and_unlock_all_is_silent() -> None:
    with XorBoardSim(boards=(1,), channels=12, model_wire_time=False) as sim:
        assert _exchange(sim.url, "80 02 00 33 b1", wait=0.1) == ""  # board 2 is not on the bus
        assert _exchange(sim.url, "8a 01 0d 11 97", wait=0.1) == ""  # lock 13 on a 12-channel board
        assert _exchange(sim.url, "8a 01 00 11 9a", wait=0.1) == ""  # unlock all: pulses, no answer
        assert [sim.unlock_count(1, i) for i in range(1, 13)] == [1] * 12


def test_faults_shape_replies() -> None:
    with XorBoardSim(boards=(1,), model_wire_time=False) as sim:
        sim.faults.corrupt_next = 1
        assert _exchange(sim.url, "80 01 01 33 b3") == "80 01 01 11 cb"  # BCC flipped (91 ^ 5a)
        sim.faults.drop_next = 1
        assert _exchange(sim.url, "80 01 01 33 b3", wait=0.1) == ""
        assert sim.faults.counts == {"corrupt": 1, "drop": 1}


def test_cli_prints_the_url_first_and_rejects_bad_options() -> None:
    result = CliRunner().invoke(command, ["--duration", "0.2", "--boards", "1,2", "--channels", "48"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("/dev/")
    result = CliRunner().invoke(command, ["--duration", "0.2", "--tcp", "127.0.0.1:0"])
    assert result.output.splitlines()[0].startswith("socket://127.0.0.1:")
    result = CliRunner().invoke(command, ["--channels", "48", "--status-bytes", "3"])
    assert result.exit_code != 0 and "cannot hold 48" in result.output
    result = CliRunner().invoke(command, ["--boards", "1", "--stuck", "1:30"])
    assert result.exit_code != 0 and "locks are 1..24" in result.output
    result = CliRunner().invoke(command, ["--boards", "300"])
    assert result.exit_code != 0 and "0..255" in result.output


def test_cli_in_its_own_process_serves_a_driver(tmp_path: Path) -> None:
    link = tmp_path / "lockctl"
    code = "from firmware_bridge.sim.xorboard_cli import command; command()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--link", str(link), "--stuck", "1:3", "--duration", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        bus = XorBoardLockerBus.from_config({"port": str(link), "boards": [1]})
        watcher = bus.watcher(poll_interval=0.01)
        assert watcher.unlock_and_wait_open("1-1", 0.5)[1].outcome is DoorOutcome.OPENED
        assert watcher.unlock_and_wait_open("1-3", 0.3)[1].outcome is DoorOutcome.NOT_OPENED
        bus.close()
    finally:
        proc.terminate()
        proc.wait(5)
