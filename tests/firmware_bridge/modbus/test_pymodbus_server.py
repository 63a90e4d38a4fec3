"""Our drivers against pymodbus' own server with a plain datastore (not our code), on TCP loopback and a pty pair."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.scale import ModbusScale, ScaleConfig
from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.protocols import DoorOutcome, DoorState, UnlockResult
from tests.firmware_bridge.modbus.support import (
    PtyPair,
    PymodbusServerThread,
    free_port,
    register_device,
    relay_board_device,
)

FC_COILS, FC_INPUTS, FC_HOLDING = 1, 2, 3


@pytest.fixture(params=["tcp", "rtu"])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[PymodbusServerThread, str]]:
    devices = [relay_board_device(1), relay_board_device(2), register_device(7, 300)]
    pair = None
    if request.param == "tcp":
        port = free_port()
        server = PymodbusServerThread(devices, tcp_port=port)
        url = f"tcp://127.0.0.1:{port}"
    else:
        pair = PtyPair(tmp_path)
        server = PymodbusServerThread(devices, serial_port=pair.a)
        url = pair.b
    server.start()
    yield server, url
    server.stop()
    if pair is not None:
        pair.close()


def make_locker(url: str) -> RelayBoardLocker:
    config = RelayLockerConfig.from_config(
        {
            "bus": {"url": url, "timeout": 0.5},
            "pulse_ms": 700,
            "slots": {"A1": {"device_id": 1, "relay": 0, "door_input": 0}, "B3": {"device_id": 2, "relay": 3}},
        }
    )
    return RelayBoardLocker(config, ModbusBus(config.bus))


def test_relay_locker_speaks_to_a_plain_datastore(server_url: tuple[PymodbusServerThread, str]) -> None:
    server, url = server_url
    server.set_values(2, FC_COILS, 0, [True] * 8)
    locker = make_locker(url)
    try:
        assert locker.start() == {}
        assert server.get_values(2, FC_COILS, 0, 8) == [False] * 8  # all off at start
        reply = locker.unlock("B3")
        assert reply.result is UnlockResult.ACKNOWLEDGED  # the datastore accepts the flash coil write
        assert server.get_values(2, FC_COILS, 0x0203, 1) == [True]
        assert {s.door for s in locker.door_states().values()} == {DoorState.CLOSED}
        server.set_values(2, FC_INPUTS, 3, [True])
        watcher = DoorWatcher(locker, poll_interval=0.02)
        assert watcher.poll() == []
        server.set_values(1, FC_INPUTS, 0, [True])
        assert [(e.slot, e.outcome) for e in watcher.poll()] == [("A1", DoorOutcome.UNCOMMANDED_OPEN)]
    finally:
        locker.close()


def test_scale_reads_a_plain_datastore(server_url: tuple[PymodbusServerThread, str]) -> None:
    server, url = server_url
    regmap = PRESETS["dini_argeo_dgt4x"]
    words, status = regmap.words_from_grams(-1234.0, regmap.status_word(stable=True, zero=False, overflow=False))
    server.set_values(7, FC_HOLDING, regmap.weight_address, words)
    assert regmap.status_address is not None
    server.set_values(7, FC_HOLDING, regmap.status_address, [status])
    config = ScaleConfig.from_config(
        {"bus": {"url": url, "timeout": 0.5}, "device_id": 7, "preset": "dini_argeo_dgt4x"}
    )
    scale = ModbusScale(config, ModbusBus(config.bus))
    try:
        reading = scale.read()
        assert reading.grams == pytest.approx(-1234.0)
        assert reading.stable and not reading.overflow
        assert reading.raw == 1234  # 1.234 kg at 3 decimals, as a magnitude; the sign is status bit 0
        scale.tare()
        assert server.get_values(7, FC_HOLDING, 0, 1) == [0x02]  # the tare code, written with function 16
        server.set_values(7, FC_HOLDING, regmap.status_address, [0b1000])  # overload, unstable
        reading = scale.read()
        assert reading.overflow and not reading.stable
    finally:
        scale.close()
