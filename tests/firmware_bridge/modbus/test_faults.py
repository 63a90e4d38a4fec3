"""Each injected fault, the RTU gap, one bus shared by threads, and reconnecting after the server or port returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.errors import BusOffline, DeviceTimeout
from firmware_bridge.modbus.client import ModbusBus, ModbusRefused
from firmware_bridge.modbus.config import BusConfig
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.scale import ModbusScale
from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.protocols import DoorOutcome, UnlockResult
from firmware_bridge.sim.modbus_server import FaultKind, ModbusSimServer
from firmware_bridge.sim.relayboard import RelayBoardDevice, RelayBoardSimulator
from firmware_bridge.sim.scale import ScaleDevice
from tests.firmware_bridge.modbus.support import free_port
from tests.support import wait_until

T = TypeVar("T")


def _or_none(read: Callable[[], T]) -> T | None:
    """What `read` returns, or None while the bus is offline or the device does not answer yet."""
    try:
        return read()
    except (BusOffline, DeviceTimeout):
        return None


def start(sim: RelayBoardSimulator, transport: str) -> str:
    return f"tcp://{sim.start_tcp()}" if transport == "tcp" else sim.start_rtu()


@pytest.fixture(params=["tcp", "rtu"])
def rig(request: pytest.FixtureRequest) -> Iterator[tuple[RelayBoardSimulator, ModbusBus]]:
    sim = RelayBoardSimulator(device_ids=(1, 2))
    bus = ModbusBus(BusConfig.from_config({"url": start(sim, request.param), "timeout": 0.25, "retries": 2}))
    yield sim, bus
    bus.close()
    sim.stop()


def test_one_lost_reply_is_retried(rig: tuple[RelayBoardSimulator, ModbusBus]) -> None:
    sim, bus = rig
    sim.board(1).force_open(2)
    sim.inject(FaultKind.NO_REPLY, device_id=1, count=1)
    assert bus.read_discrete_inputs(1, 0, 8)[2] is True
    assert sim.stats.per_device[1] == 2


def test_a_silent_device_times_out_naming_device_and_function(rig: tuple[RelayBoardSimulator, ModbusBus]) -> None:
    sim, bus = rig
    sim.inject(FaultKind.NO_REPLY, device_id=2)
    with pytest.raises(DeviceTimeout, match=r"device 2 .* read discrete inputs \(function 0x02\) at 0x0000"):
        bus.read_discrete_inputs(2, 0, 8)
    assert sim.stats.per_device[2] == 3  # first try + 2 retries, then it gives up
    assert bus.read_discrete_inputs(1, 0, 8) == [False] * 8  # the other board on the bus is unaffected


def test_exception_replies_become_errors_naming_device_function_register(
    rig: tuple[RelayBoardSimulator, ModbusBus],
) -> None:
    sim, bus = rig
    sim.inject(FaultKind.EXCEPTION, device_id=1, count=1, exception_code=4)
    with pytest.raises(ModbusRefused) as caught:
        bus.read_coils(1, 0, 8)
    error = caught.value
    assert (error.device_id, error.function_code, error.address, error.exception_code) == (1, 0x01, 0, 4)
    assert "device 1" in str(error) and "read coils (function 0x01) at 0x0000" in str(error)
    assert "server device failure" in str(error)
    assert sim.stats.per_device[1] == 1  # an answer is an answer: exception replies are not retried
    with pytest.raises(ModbusRefused, match="illegal data address"):
        bus.read_discrete_inputs(1, 6, 4)  # past input 7: the board itself refuses


def test_refused_unlock_is_reported_and_nothing_opens(rig: tuple[RelayBoardSimulator, ModbusBus]) -> None:
    sim, bus = rig
    config = RelayLockerConfig.from_config(
        {"bus": {"url": bus.config.url}, "slots": {"A1": {"device_id": 1, "relay": 0}}}
    )
    locker = RelayBoardLocker(config, bus)
    locker.start()
    sim.inject(FaultKind.EXCEPTION, device_id=1, count=1, exception_code=3, function=0x05)
    reply, event = DoorWatcher(locker, poll_interval=0.02).unlock_and_wait_open("A1", open_window=0.5)
    assert reply.result is UnlockResult.REFUSED
    assert "write single coil (function 0x05) at 0x0200" in reply.detail and "illegal data value" in reply.detail
    assert event.outcome is DoorOutcome.NOT_OPENED


def test_corrupted_crc_on_rtu_is_dropped_and_retried() -> None:
    sim = RelayBoardSimulator(device_ids=(1,))
    bus = ModbusBus(BusConfig.from_config({"url": sim.start_rtu(), "timeout": 0.25, "retries": 1}))
    try:
        sim.board(1).force_open(0)
        sim.inject(FaultKind.BAD_CRC, device_id=1, count=1)
        assert bus.read_discrete_inputs(1, 0, 1) == [True]
        sim.inject(FaultKind.BAD_CRC, device_id=1)
        with pytest.raises(DeviceTimeout):
            bus.read_discrete_inputs(1, 0, 1)
        assert sim.stats.replies >= 3  # the board did answer; the master rightly ignored the bad frames
    finally:
        bus.close()
        sim.stop()


def test_dropped_tcp_connection_is_reopened() -> None:
    sim = RelayBoardSimulator(device_ids=(1,))
    bus = ModbusBus(BusConfig.from_config({"url": f"tcp://{sim.start_tcp()}", "timeout": 0.25}))
    try:
        assert bus.read_coils(1, 0, 8) == [False] * 8
        sim.inject(FaultKind.DROP_CONNECTION, device_id=1, count=1)
        assert bus.read_coils(1, 0, 8) == [False] * 8
        assert bus.reconnects == 1
    finally:
        bus.close()
        sim.stop()


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_rtu_gap_is_kept(transport: str) -> None:
    sim = RelayBoardSimulator(device_ids=(1, 2), baudrate=9600)
    url = start(sim, transport)
    bus = ModbusBus(BusConfig.from_config({"url": url, "baudrate": 9600}))
    try:
        for _ in range(10):
            bus.read_discrete_inputs(1, 0, 8)
            bus.read_discrete_inputs(2, 0, 8)
        if transport == "rtu":
            assert sim.stats.gap_violations == 0
            assert sim.stats.min_gap >= bus.config.timing.inter_frame_gap
    finally:
        bus.close()
        sim.stop()


def test_reconnects_with_backoff_after_the_server_restarts() -> None:
    port = free_port()
    sim = RelayBoardSimulator(device_ids=(1,))
    sim.start_tcp("127.0.0.1", port)
    bus = ModbusBus(
        BusConfig.from_config({"url": f"tcp://127.0.0.1:{port}", "timeout": 0.25, "retries": 0, "reconnect_min": 0.2})
    )
    try:
        assert bus.read_discrete_inputs(1, 0, 8) == [False] * 8
        sim.stop()
        with pytest.raises(BusOffline):
            bus.read_discrete_inputs(1, 0, 8)  # the old socket fails
        with pytest.raises(BusOffline, match="cannot open"):
            bus.read_discrete_inputs(1, 0, 8)  # a connect is tried and refused
        with pytest.raises(BusOffline, match="next attempt in"):
            bus.read_discrete_inputs(1, 0, 8)  # inside the backoff window nothing is tried
        sim.start_tcp("127.0.0.1", port)
        sim.board(1).force_open(5)
        inputs = wait_until(lambda: _or_none(lambda: bus.read_discrete_inputs(1, 0, 8)), what="a reconnect")
        assert inputs[5] is True
        assert bus.reconnects >= 1
    finally:
        bus.close()
        sim.stop()


def test_rtu_port_that_vanishes_and_returns_is_reopened(tmp_path: Path) -> None:
    link = str(tmp_path / "ttyRELAY")
    sim = RelayBoardSimulator(device_ids=(1,))
    sim.start_rtu(link=link)
    bus = ModbusBus(BusConfig.from_config({"url": link, "timeout": 0.25, "retries": 0, "reconnect_min": 0.1}))
    try:
        assert bus.read_coils(1, 0, 8) == [False] * 8
        sim.stop()  # the USB adapter is unplugged
        with pytest.raises((BusOffline, DeviceTimeout)):
            bus.read_coils(1, 0, 8)
        sim.start_rtu(link=link)  # ... and plugged in again (a new pty behind the same name)
        sim.board(1).energise([6])
        coils = wait_until(lambda: _or_none(lambda: bus.read_coils(1, 0, 8)), what="the port to reopen")
        assert coils[6] is True
        assert bus.reconnects >= 1
    finally:
        bus.close()
        sim.stop()


def test_relay_boards_and_a_scale_share_one_rtu_line_from_two_threads() -> None:
    sim = ModbusSimServer(
        {1: RelayBoardDevice(), 2: RelayBoardDevice(), 9: ScaleDevice(PRESETS["pt_global_pt113"], noise_grams=0.0)}
    )
    url = sim.start_rtu()
    bus_config = {"url": url, "timeout": 0.5}
    locker = RelayBoardLocker.from_config(
        {"bus": bus_config, "slots": {"A": {"device_id": 1, "relay": 0}, "B": {"device_id": 2, "relay": 0}}}
    )
    scale = ModbusScale.from_config({"bus": bus_config, "device_id": 9, "preset": "pt_global_pt113"})
    assert scale.bus is locker.bus  # same settings -> one bus object, one lock
    errors: list[Exception] = []

    def poll_doors() -> None:
        try:
            for _ in range(15):
                locker.door_states()
                assert not locker.last_errors, locker.last_errors
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=poll_doors)
    try:
        thread.start()
        for _ in range(15):
            scale.read()
        thread.join(timeout=30)
        assert errors == []
        assert sim.stats.gap_violations == 0 and sim.stats.requests >= 15 * 2 + 15 + 2
    finally:
        locker.close()
        sim.stop()
