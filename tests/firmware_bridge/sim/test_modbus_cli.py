"""`vendtrack sim relayboard` / `vendtrack sim scale` as processes, driven by a plain pymodbus master.

The click commands run in a child Python directly (not through the whole `vendtrack` app, whose other plugins
are not this test's business); `sim_commands()` is checked to list them under the right names.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from firmware_bridge.cli import sim_commands
from firmware_bridge.modbus.client import RawWriteCoilRequest
from firmware_bridge.modbus.scale_presets import PRESETS
from tests.support import wait_until


def test_commands_are_listed_for_vendtrack_sim() -> None:
    names = {command.name for command in sim_commands()}
    assert {"relayboard", "scale"} <= names


@contextmanager
def simulator(name: str, *args: str) -> Iterator[str]:
    code = f"import sys; from firmware_bridge.sim.{name}_cli import command; command(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first, "the simulator printed nothing"
        yield first
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_relayboard_over_tcp_with_a_plain_master() -> None:
    with simulator("relayboard", "--tcp", "127.0.0.1:0", "--boards", "1,2", "--person", "2:5:0.05:0.3") as address:
        host, _, port = address.rpartition(":")
        client = ModbusTcpClient(host, port=int(port), timeout=2)
        assert client.connect()
        try:
            assert client.read_discrete_inputs(0, count=8, device_id=2).bits[:8] == [False] * 8
            echo = client.execute(False, RawWriteCoilRequest(0x0205, 5, dev_id=2))  # flash-on relay 5, 500 ms
            assert not echo.isError() and echo.address == 0x0205
            assert client.read_coils(0, count=8, device_id=2).bits[5] is True
            wait_until(
                lambda: client.read_discrete_inputs(0, count=8, device_id=2).bits[5], what="the person to open door 5"
            )
            assert client.read_coils(0, count=8, device_id=9).isError()  # absent board: gateway exception
        finally:
            client.close()


def test_scale_over_rtu_with_a_plain_master() -> None:
    with simulator("scale", "--rtu", "--devices", "4", "--preset", "pt_global_pt113", "--items", "12") as path:
        assert path.startswith("/dev/")
        client = ModbusSerialClient(path, baudrate=9600, timeout=2)
        assert client.connect()
        try:
            regmap = PRESETS["pt_global_pt113"]

            def stable_words() -> list[int] | None:
                words: list[int] = client.read_holding_registers(0, count=3, device_id=4).registers
                return words if regmap.flags(words[2])[0] else None

            words = wait_until(stable_words, what="a stable reading", every=0)
            grams = struct.unpack(">i", struct.pack(">HH", words[0], words[1]))[0]
            assert grams == pytest.approx(12 * 25, abs=3)
            assert not client.write_register(8, 2, device_id=4).isError()  # tare
        finally:
            client.close()


def test_scale_bins_hold_items_of_their_own_weight() -> None:
    args = ("--tcp", "127.0.0.1:0", "--devices", "1,2", "--preset", "pt_global_pt113", "--items", "10")
    with simulator("scale", *args, "--noise", "0", "--settle", "0", "--unit-grams", "1=3.5,2=110") as address:
        host, _, port = address.rpartition(":")
        client = ModbusTcpClient(host, port=int(port), timeout=2)
        assert client.connect()
        try:
            readings = {}
            for device in (1, 2):
                words = client.read_holding_registers(0, count=2, device_id=device).registers
                readings[device] = struct.unpack(">i", struct.pack(">HH", words[0], words[1]))[0]
            assert readings == {1: pytest.approx(35, abs=1), 2: pytest.approx(1100, abs=1)}
        finally:
            client.close()


def test_scale_refuses_a_malformed_unit_weight() -> None:
    code = "import sys; from firmware_bridge.sim.scale_cli import command; command(sys.argv[1:])"
    for bad in ("heavy", "1=0", "1=3.5,x=2", "9=3"):
        done = subprocess.run(
            [sys.executable, "-c", code, "--tcp", "127.0.0.1:0", "--devices", "1", "--unit-grams", bad],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2 and "--unit-grams" in done.stderr, (bad, done.stderr)
