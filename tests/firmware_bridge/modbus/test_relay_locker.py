"""Relay-board lockers against our simulator over TCP loopback and RTU on a pty: pulses, all-off, door outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.config import BusConfig
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.rtu import with_crc
from firmware_bridge.protocols import DoorOutcome, DoorState, LockerBus, UnlockResult
from firmware_bridge.sim.relayboard import RelayBoardSimulator
from tests.support import wait_until

SLOTS = {
    "A1": {"device_id": 1, "relay": 0, "door_input": 0},
    "A2": {"device_id": 1, "relay": 1, "door_input": 1},
    "B1": {"device_id": 2, "relay": 4, "door_input": 6},
}


def url_of(sim: RelayBoardSimulator, transport: str) -> str:
    return f"tcp://{sim.start_tcp()}" if transport == "tcp" else sim.start_rtu()


def make_locker(url: str, **extra: Any) -> RelayBoardLocker:
    raw: dict[str, Any] = {"bus": {"url": url, "timeout": 0.3, "retries": 1}, "pulse_ms": 300, "slots": SLOTS}
    raw.update(extra)
    config = RelayLockerConfig.from_config(raw)
    return RelayBoardLocker(config, ModbusBus(config.bus))


@pytest.fixture(params=["tcp", "rtu"])
def rig(request: pytest.FixtureRequest) -> Iterator[tuple[RelayBoardSimulator, RelayBoardLocker, str]]:
    sim = RelayBoardSimulator(device_ids=(1, 2))
    url = url_of(sim, request.param)
    locker = make_locker(url)
    yield sim, locker, request.param
    locker.close()
    sim.stop()


def test_is_a_locker_bus(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    _, locker, _ = rig
    assert isinstance(locker, LockerBus)
    assert list(locker.slots()) == ["A1", "A2", "B1"]


def test_all_relays_off_at_start(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    sim, locker, _ = rig
    sim.board(1).energise([2, 5])
    sim.board(2).energise([0, 7])
    assert locker.start() == {}
    assert not any(sim.board(i).relay(ch) for i in (1, 2) for ch in range(8))


def test_boards_are_switched_off_before_first_use_even_without_start(
    rig: tuple[RelayBoardSimulator, RelayBoardLocker, str],
) -> None:
    sim, locker, _ = rig
    sim.board(2).energise([3])
    locker.door_states()
    assert not sim.board(2).relay(3)


def test_unlock_is_a_board_timed_pulse(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    sim, locker, transport = rig
    locker.start()
    reply = locker.unlock("B1")
    assert reply.result is UnlockResult.ACKNOWLEDGED
    wait_until(lambda: not sim.board(2).relay(4), what="relay 4 to be released")  # by the board, not us
    (pulse,) = sim.board(2).pulses(4)
    assert pulse.off_at is not None
    assert pulse.off_at - pulse.on_at == pytest.approx(0.3)
    expected = bytes([2, 0x05, 0x02, 0x04, 0x00, 0x03])  # device 2, function 05, coil 0x0204, 3 x 100 ms
    assert (with_crc(expected) if transport == "rtu" else expected) in sim.frames


def test_door_transitions_become_sensed_outcomes(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    sim, locker, _ = rig
    watcher = DoorWatcher(locker, poll_interval=0.02)
    sim.board(1).person_takes(1, open_after=0.1, hold=0.3)
    reply, opened = watcher.unlock_and_wait_open("A2", open_window=2.0)
    assert reply.result is UnlockResult.ACKNOWLEDGED
    assert opened.outcome is DoorOutcome.OPENED
    assert watcher.wait_closed("A2", close_window=3.0).outcome is DoorOutcome.CLOSED


def test_a_person_too_slow_for_the_pulse_finds_the_door_locked(
    rig: tuple[RelayBoardSimulator, RelayBoardLocker, str],
) -> None:
    sim, locker, _ = rig
    watcher = DoorWatcher(locker, poll_interval=0.02)
    sim.board(1).person_takes(0, open_after=0.6, hold=0.3)  # the pulse is 0.3 s
    _, event = watcher.unlock_and_wait_open("A1", open_window=1.0)
    assert event.outcome is DoorOutcome.NOT_OPENED
    assert sim.board(1).failed_openings == 1


def test_uncommanded_and_already_open_doors(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    sim, locker, _ = rig
    watcher = DoorWatcher(locker, poll_interval=0.02)
    assert watcher.poll() == []
    sim.board(2).force_open(6)
    events = watcher.poll()
    assert [(e.slot, e.outcome) for e in events] == [("B1", DoorOutcome.UNCOMMANDED_OPEN)]
    _, event = watcher.unlock_and_wait_open("B1", open_window=0.5)
    assert event.outcome is DoorOutcome.ALREADY_OPEN
    sim.board(2).close_door(6)
    assert [(e.slot, e.outcome) for e in watcher.poll()] == [("B1", DoorOutcome.CLOSED)]


def test_door_state_comes_from_inputs_not_coils(rig: tuple[RelayBoardSimulator, RelayBoardLocker, str]) -> None:
    sim, locker, _ = rig
    locker.unlock("A1")  # relay on (the coil reads on), nobody opens
    assert locker.door_states()["A1"].door is DoorState.CLOSED
    sim.board(1).force_open(0)
    assert locker.door_states()["A1"].door is DoorState.OPEN


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_inverted_door_inputs(transport: str) -> None:
    sim = RelayBoardSimulator(device_ids=(1, 2), input_on_means_open=False)
    url = url_of(sim, transport)
    locker = make_locker(url, door_input_on="closed")
    try:
        assert {s.door for s in locker.door_states().values()} == {DoorState.CLOSED}
        sim.board(1).force_open(1)
        assert locker.door_states()["A2"].door is DoorState.OPEN
    finally:
        locker.close()
        sim.stop()


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_an_absent_board_reads_unknown_and_says_why(transport: str) -> None:
    sim = RelayBoardSimulator(device_ids=(1,))  # board 2 is not on the bus
    url = url_of(sim, transport)
    locker = make_locker(url)
    try:
        states = locker.door_states()
        assert states["A1"].door is DoorState.CLOSED
        assert states["B1"].door is DoorState.UNKNOWN
        assert "device 2" in locker.last_errors[2]
        reply = locker.unlock("B1")
        assert reply.result is UnlockResult.REFUSED and "device 2" in reply.detail
    finally:
        locker.close()
        sim.stop()


def test_relay_board_and_scale_share_one_bus_object() -> None:
    config = BusConfig.from_config({"url": "tcp://127.0.0.1:1502"})
    assert ModbusBus.shared(config) is ModbusBus.shared(BusConfig.from_config({"url": "tcp://127.0.0.1:1502"}))
