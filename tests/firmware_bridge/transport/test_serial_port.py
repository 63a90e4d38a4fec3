"""SerialTransport over real pyserial URLs: loop://, a pty pair, a port that is missing and comes back."""

from __future__ import annotations

import os
import tty
from pathlib import Path

import pytest

from firmware_bridge.errors import BusOffline, DeviceTimeout
from firmware_bridge.kerong.codec import KerongScanner, encode_status
from firmware_bridge.transport import LineSettings, SerialTransport


def test_loop_url_transaction_returns_the_accepted_frame() -> None:
    transport = SerialTransport(LineSettings("loop://", turnaround_ms=0))
    scanner = KerongScanner()
    frame = encode_status(3)
    assert transport.transact(frame, scanner, lambda f: f, 0.2) == frame
    transport.close()


def test_a_frame_nobody_accepts_times_out_with_a_clear_error() -> None:
    transport = SerialTransport(LineSettings("loop://", turnaround_ms=0))
    with pytest.raises(DeviceTimeout, match="no valid reply"):
        transport.transact(encode_status(1), KerongScanner(), lambda f: None, 0.05)
    assert transport.timeouts == 1


def test_rs485_mode_on_a_pty_is_refused_with_advice() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        transport = SerialTransport(LineSettings(os.ttyname(slave), rs485=True))
        with pytest.raises(BusOffline, match="rs485=false"):
            transport.ensure_open()
    finally:
        os.close(master)
        os.close(slave)


def test_missing_port_is_offline_and_reopens_after_backoff(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB-gone"
    now = [0.0]
    transport = SerialTransport(LineSettings(str(link)), backoff_initial=1.0, monotonic=lambda: now[0])
    with pytest.raises(BusOffline, match="cannot open"):
        transport.ensure_open()
    master, slave = os.openpty()
    tty.setraw(slave)
    os.symlink(os.ttyname(slave), link)
    try:
        with pytest.raises(BusOffline, match="next reopen attempt"):
            transport.ensure_open()  # still inside the backoff: no attempt is made
        now[0] = 1.5
        transport.ensure_open()
        assert transport.is_open and transport.reopens == 1
        os.write(master, b"\x02\x00")
        assert transport.read_available(0.5) == b"\x02\x00"
        os.close(master)
        with pytest.raises(BusOffline, match="lost the port"):
            transport.read_available(0.5)
        assert not transport.is_open
    finally:
        transport.close()
        os.close(slave)


def test_turnaround_keeps_the_line_quiet_after_a_reply() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    now = [100.0]
    waits: list[float] = []
    transport = SerialTransport(
        LineSettings(os.ttyname(slave), turnaround_ms=30), monotonic=lambda: now[0], sleep=waits.append
    )
    try:
        transport.ensure_open()
        os.write(master, b"\x02")
        assert transport.read_available(0.5) == b"\x02"  # a reply at t = 100.000
        now[0] = 100.010
        transport.write(b"\x03")  # 10 ms later: the transceiver still needs 20 ms before we drive the line
        assert os.read(master, 10) == b"\x03"
        assert waits == [pytest.approx(0.020)]
        now[0] = 100.5
        transport.write(b"\x04")  # long after the reply: no wait
        assert os.read(master, 10) == b"\x04" and waits == [pytest.approx(0.020)]
    finally:
        transport.close()
        os.close(master)
        os.close(slave)


def test_a_second_process_cannot_drive_the_same_bus() -> None:
    import subprocess
    import sys

    master, slave = os.openpty()
    tty.setraw(slave)
    first = SerialTransport(LineSettings(os.ttyname(slave), turnaround_ms=0))
    try:
        first.ensure_open()
        code = (
            "import sys\n"
            "from firmware_bridge.errors import BusOffline\n"
            "from firmware_bridge.transport import LineSettings, SerialTransport\n"
            "try:\n"
            "    SerialTransport(LineSettings(sys.argv[1])).ensure_open()\n"
            "except BusOffline as exc:\n"
            "    print(exc)\n"
            "    sys.exit(3)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, os.ttyname(slave)], capture_output=True, text=True, timeout=30
        )
        assert other.returncode == 3, other.stderr
        assert "held by another process" in other.stdout and "only one vendtrack process" in other.stdout
        first.close()  # the lock goes with the port: the other process may take over now
        again = subprocess.run(
            [sys.executable, "-c", code, os.ttyname(slave)], capture_output=True, text=True, timeout=30
        )
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        first.close()
        os.close(master)
        os.close(slave)
