"""KerongLockerBus against the lock-board simulator over a real pty, under each injected fault.

Every test checks the sensed outcome and that the simulator saw exactly one unlock pulse per unlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from firmware_bridge.errors import BusOffline, DeviceTimeout
from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.protocols import DoorOutcome, DoorState, LockerBus, SlotState, UnlockResult
from firmware_bridge.sim import Faults
from firmware_bridge.sim.lockboard import LockBoardSim
from tests.firmware_bridge.kerong.conftest import bus_config
from tests.support import wait_until

OPEN_WINDOW = 0.5


def _unlock_opens(bus: KerongLockerBus, sim: LockBoardSim, slot: str, board: int, lock: int) -> None:
    reply, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open(slot, OPEN_WINDOW)
    assert reply.result is UnlockResult.ACKNOWLEDGED
    assert event.outcome is DoorOutcome.OPENED, event
    assert sim.unlock_count(board, lock) == 1, "the lock was pulsed more than once"


def test_it_is_a_locker_bus(bus: KerongLockerBus) -> None:
    assert isinstance(bus, LockerBus)
    assert bus.slots()[:2] == ("A1", "A2")


def test_door_states_and_items(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    sim.take(1, 4)
    sim.open_door(0, 2)  # open when it returns
    states = bus.door_states()
    assert states["A3"].door is DoorState.OPEN and states["A1"].door is DoorState.CLOSED
    assert states["B5"].item_present is False and states["B4"].item_present is True


def test_unlock_opens_then_person_closes(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    watcher = bus.watcher(poll_interval=0.01)
    _unlock_opens(bus, sim, "B3", 1, 2)
    sim.person_closes(1, 2, after=0.05)
    assert watcher.wait_closed("B3", 1.0).outcome is DoorOutcome.CLOSED


def test_already_open_door_is_not_unlocked(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    sim.open_door(0, 5)
    _, event = bus.watcher().unlock_and_wait_open("A6", OPEN_WINDOW)
    assert event.outcome is DoorOutcome.ALREADY_OPEN
    assert sim.unlock_count(0, 5) == 0


def test_stuck_lock_is_not_opened(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    sim.set_stuck(0, 7)
    reply, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open("A8", 0.3)
    assert reply.result is UnlockResult.ACKNOWLEDGED
    assert event.outcome is DoorOutcome.NOT_OPENED
    assert sim.unlock_count(0, 7) == 1


def test_uncommanded_opening_is_reported(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    watcher = bus.watcher()
    assert watcher.poll() == []
    sim.open_door(1, 9)
    events = watcher.poll()
    assert [(e.slot, e.outcome) for e in events] == [("B10", DoorOutcome.UNCOMMANDED_OPEN)]


@pytest.mark.parametrize("fault", ["drop_next", "truncate_next", "corrupt_next", "delay_next", "noise_next"])
def test_a_lost_or_damaged_unlock_reply_never_unlocks_twice(
    bus: KerongLockerBus, sim: LockBoardSim, fault: str
) -> None:
    sim.faults.delay_s = 0.15  # longer than the driver's reply timeout
    for lock in range(4):
        setattr(sim.faults, fault, 1)  # hits the unlock's reply
        reply = bus.unlock(f"A{lock + 1}")
        assert reply.result is UnlockResult.ACKNOWLEDGED, reply
        _wait_door_open(bus, f"A{lock + 1}")
        assert sim.unlock_count(0, lock) == 1, "the lock was pulsed more than once"
    if fault != "noise_next":  # noise may land beside the frame instead of inside it
        assert bus.lost_unlock_replies >= 4
    if fault in ("corrupt_next", "truncate_next"):
        assert bus.bad_frames + bus.scanner.skipped_bytes > 0


def _wait_door_open(bus: KerongLockerBus, slot: str) -> None:
    wait_until(lambda: bus.door_states()[slot].door is DoorState.OPEN, what=f"door {slot} to read open")


def test_status_reads_survive_damaged_replies(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    sim.faults.corrupt_next = 1
    sim.faults.drop_next = 1
    assert bus.door_states()["B1"].door is DoorState.CLOSED


def test_random_noise_and_faults_still_give_the_right_outcome(tmp_path: Path) -> None:
    faults = Faults(noise=0.3, drop=0.1, corrupt=0.1, truncate=0.1, seed=7)
    with LockBoardSim(boards=(0, 1), link=str(tmp_path / "noisy"), unlock_delay=0.03, faults=faults) as sim:
        bus = KerongLockerBus.from_config(bus_config(sim.url, retries=4))
        for lock in range(8):
            _unlock_opens(bus, sim, f"B{lock + 1}", 1, lock)
        assert sum(faults.counts.values()) > 0
        bus.close()


def test_unanswered_unlock_with_unreadable_board_is_not_retried(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    sim.faults.drop = 1.0
    with pytest.raises(DeviceTimeout, match="not retrying"):
        bus.unlock("A9")
    assert sim.unlock_count(0, 8) == 1


def test_vanished_bus_is_offline_then_recovers_without_restart(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    assert bus.door_states()["A1"].door is DoorState.CLOSED
    sim.vanish()
    with pytest.raises(BusOffline):
        bus.door_states()
    with pytest.raises(BusOffline):
        bus.unlock("A2")
    assert sim.unlock_count(0, 1) == 0
    sim.restore()
    states = wait_until(lambda: _states_or_none(bus), what="the driver to reopen the port")
    assert states["A1"].door is DoorState.CLOSED
    assert bus.transport.reopens == 1
    _unlock_opens(bus, sim, "A2", 0, 1)


def _states_or_none(bus: KerongLockerBus) -> Mapping[str, SlotState] | None:
    try:
        return bus.door_states()
    except BusOffline:
        return None


def test_boards_that_do_not_answer_unlocks(tmp_path: Path) -> None:
    with LockBoardSim(boards=(0, 1), link=str(tmp_path / "silent"), answer_unlock=False, unlock_delay=0.03) as sim:
        bus = KerongLockerBus.from_config(bus_config(sim.url, unlock_reply="none"))
        _unlock_opens(bus, sim, "A4", 0, 3)
        bus.close()


def test_inverted_polarity_board(tmp_path: Path) -> None:
    with LockBoardSim(boards=(0,), link=str(tmp_path / "inv"), hook_set_closed=False, sensor_set_present=False) as sim:
        config = {"port": sim.url, "boards": [{"address": 0, "hook_bit_set": "open", "sensor_bit_set": "empty"}]}
        bus = KerongLockerBus.from_config(config)
        sim.take(0, 1)
        states = bus.door_states()
        assert states["0-1"].door is DoorState.CLOSED and states["0-1"].item_present is True
        assert states["0-2"].item_present is False
        bus.close()


def test_over_tcp_like_a_serial_server() -> None:
    with LockBoardSim(boards=(0,), tcp=("127.0.0.1", 0), unlock_delay=0.03) as sim:
        assert sim.url.startswith("socket://127.0.0.1:")
        bus = KerongLockerBus.from_config({"port": sim.url, "boards": [0], "slots": {"T1": [0, 0]}})
        _reply, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open("T1", OPEN_WINDOW)
        assert event.outcome is DoorOutcome.OPENED and sim.unlock_count(0, 0) == 1
        bus.close()


def test_a_board_that_does_not_answer_reads_unknown(tmp_path: Path) -> None:
    with LockBoardSim(boards=(0,), link=str(tmp_path / "one")) as sim:
        bus = KerongLockerBus.from_config(bus_config(sim.url, retries=0))
        states = bus.door_states()
        assert states["A1"].door is DoorState.CLOSED and states["B1"].door is DoorState.UNKNOWN
        bus.close()


def test_unlock_all_pulses_every_lock_of_one_board(bus: KerongLockerBus, sim: LockBoardSim) -> None:
    assert bus.unlock_all(1).result is UnlockResult.ACKNOWLEDGED
    assert [sim.unlock_count(1, i) for i in range(16)] == [1] * 16
    assert sim.unlock_count(0, 0) == 0
    with pytest.raises(KeyError, match="board 5"):
        bus.unlock_all(5)


def test_unknown_slot_names_the_known_ones(bus: KerongLockerBus) -> None:
    with pytest.raises(KeyError, match="A1"):
        bus.unlock("Z9")


def test_a_serial_server_that_drops_off_the_network_comes_back() -> None:
    with LockBoardSim(boards=(0,), tcp=("127.0.0.1", 0), unlock_delay=0.03) as sim:
        bus = KerongLockerBus.from_config({"port": sim.url, "boards": [0], "slots": {"T1": [0, 0]}})
        assert bus.door_states()["T1"].door is DoorState.CLOSED
        sim.vanish()
        with pytest.raises(BusOffline):
            bus.door_states()
        sim.restore()
        states = wait_until(lambda: _states_or_none(bus), what="the driver to reconnect")
        assert states["T1"].door is DoorState.CLOSED
        _unlock_opens(bus, sim, "T1", 0, 0)
        bus.close()


def test_a_missed_status_read_is_not_reported_as_a_door_change(tmp_path: Path) -> None:
    with LockBoardSim(boards=(0,), link=str(tmp_path / "miss")) as sim:
        bus = KerongLockerBus.from_config(bus_config(sim.url, boards=[0], slots={"A1": [0, 0]}, retries=0))
        watcher = bus.watcher()
        sim.open_door(0, 0)
        assert [e.outcome for e in watcher.poll()] == []  # first sight of an open door: no baseline yet
        sim.faults.drop_next = 1
        assert watcher.poll() == []  # the read was lost: unknown, not "closed"
        assert watcher.poll() == []  # and the door that is still open is not a new uncommanded opening
        bus.close()


def test_a_lost_reply_on_a_stuck_lock_repeats_the_pulse_only_after_watching(sim: LockBoardSim) -> None:
    bus = KerongLockerBus.from_config(bus_config(sim.url, response_budget_ms=300))  # no spurious timeouts
    sim.set_stuck(0, 10)
    sim.faults.drop_next = 1
    assert bus.unlock("A11").result is UnlockResult.ACKNOWLEDGED
    assert sim.unlock_count(0, 10) == 2  # the door stayed shut through settle_ms, so one more pulse
    assert bus.lost_unlock_replies == 1
    bus.close()


def test_poll_cycle_floor_is_the_wire_time() -> None:
    bus = KerongLockerBus.from_config({"port": "loop://", "boards": [0, 1, 2]})
    # 3 boards x (5-byte request + 9-byte reply = 140 bits at 19200 baud, + 3.5 characters of turnaround)
    assert bus.poll_cycle_floor() == pytest.approx(3 * (140 / 19200 + 35 / 19200))


def test_a_door_open_for_longer_than_one_poll_is_seen(tmp_path: Path) -> None:
    """What polling guarantees without a latched status bit: an opening that spans a full poll is reported."""
    with LockBoardSim(boards=(0, 1), link=str(tmp_path / "span")) as sim:
        bus = KerongLockerBus.from_config(bus_config(sim.url))
        watcher = bus.watcher()
        assert watcher.poll() == []
        sim.open_door(1, 5)
        events = wait_until(watcher.poll, what="the opening to be reported", every=0)
        assert [(e.slot, e.outcome) for e in events] == [("B6", DoorOutcome.UNCOMMANDED_OPEN)]
        sim.person_closes(1, 5)
        events = wait_until(watcher.poll, what="the closing to be reported", every=0)
        assert [(e.slot, e.outcome) for e in events] == [("B6", DoorOutcome.CLOSED)]
        bus.close()
