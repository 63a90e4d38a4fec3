"""Our simulators under mbpoll, an independent Modbus master (libmodbus), over TCP and RTU on a pty.

Skipped where mbpoll is not installed (Debian: apt-get install mbpoll).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from firmware_bridge.sim.relayboard import RelayBoardSimulator
from firmware_bridge.sim.scale import ScaleSimulator

pytestmark = pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll is not installed")


def mbpoll(target: list[str], *args: str) -> str:
    result = subprocess.run(["mbpoll", *args, "-0", "-1", *target], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def values(output: str) -> list[int]:
    return [int(line.split()[-1]) for line in output.splitlines() if line.startswith("[")]


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_relay_board_under_mbpoll(transport: str) -> None:
    sim = RelayBoardSimulator(device_ids=(1, 2))
    try:
        if transport == "tcp":
            host, _, port = sim.start_tcp().rpartition(":")
            target, mode = [host], ["-m", "tcp", "-p", port]
        else:
            target, mode = [sim.start_rtu()], ["-m", "rtu", "-b", "9600", "-P", "none"]
        sim.board(2).force_open(3)
        assert values(mbpoll(target, *mode, "-a", "2", "-t", "1", "-r", "0", "-c", "8")) == [0, 0, 0, 1, 0, 0, 0, 0]
        mbpoll([*target, "1"], *mode, "-a", "1", "-t", "0", "-r", "6")  # switch relay 6 on with function 05
        assert sim.board(1).relay(6)
        assert values(mbpoll(target, *mode, "-a", "1", "-t", "0", "-r", "0", "-c", "8"))[6] == 1
    finally:
        sim.stop()


def test_scale_registers_under_mbpoll() -> None:
    sim = ScaleSimulator((5,), "pt_global_pt113", unit_grams=25.0, items=20, noise_grams=0.0, settle_s=0.0)
    try:
        path = sim.start_rtu()
        out = mbpoll(
            [path], "-m", "rtu", "-b", "9600", "-P", "none", "-a", "5", "-t", "4:int", "-B", "-r", "0", "-c", "1"
        )
        assert values(out) == [500]  # 20 x 25 g as a big-endian 32-bit integer
    finally:
        sim.stop()
