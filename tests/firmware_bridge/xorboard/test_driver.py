"""XorBoardLockerBus against the XOR lock-board simulator over a real pty and TCP, under each injected fault.

The same guarantees as the Kerong driver (the guard is shared): one pulse per unlock whatever happens to
the reply, sensed outcomes from polling, resync on garbage, reopen with backoff after the port vanishes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.errors import BusOffline, DeviceTimeout
from firmware_bridge.protocols import DoorOutcome, DoorState, LockerBus, UnlockResult
from firmware_bridge.sim import Faults
from firmware_bridge.sim.xorboard import XorBoardSim
from firmware_bridge.xorboard import Polarity, XorBoardLockerBus
from tests.firmware_bridge.xorboard.conftest import bus_config
from tests.support import wait_until

OPEN_WINDOW = 0.5


def _unlock_opens(bus: XorBoardLockerBus, sim: XorBoardSim, slot: str, board: int, lock: int) -> None:
    reply, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open(slot, OPEN_WINDOW)
    assert reply.result is UnlockResult.ACKNOWLEDGED
    assert event.outcome is DoorOutcome.OPENED, event
    assert sim.unlock_count(board, lock) == 1, "the lock was pulsed more than once"


def _wait_door_open(bus: XorBoardLockerBus, slot: str) -> None:
    wait_until(lambda: bus.door_states()[slot].door is DoorState.OPEN, what=f"door {slot} to read open")


def _wait_online(bus: XorBoardLockerBus) -> None:
    def answers() -> bool:
        try:
            bus.door_states()
        except BusOffline:
            return False
        return True

    wait_until(answers, what="the driver to reopen the port")


def test_it_is_a_locker_bus(bus: XorBoardLockerBus) -> None:
    assert isinstance(bus, LockerBus)
    assert bus.slots()[:2] == ("A1", "A2")


def test_door_states_from_one_bitmap_read_per_board(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    sim.open_door(1, 3)
    sim.open_door(2, 24)
    states = bus.door_states()
    assert states["A3"].door is DoorState.OPEN and states["B24"].door is DoorState.OPEN
    assert states["A1"].door is DoorState.CLOSED and states["A3"].item_present is None
    assert sim.requests_seen == 2  # one read-all per board


def test_unlock_opens_then_person_closes(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    _unlock_opens(bus, sim, "B9", 2, 9)
    sim.person_closes(2, 9, after=0.05)
    assert bus.watcher(poll_interval=0.01).wait_closed("B9", 1.0).outcome is DoorOutcome.CLOSED


def test_the_unlock_reply_is_a_detail_not_the_outcome(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    sim.set_stuck(1, 8)
    reply, event = bus.watcher(poll_interval=0.01).unlock_and_wait_open("A8", 0.3)
    assert reply.result is UnlockResult.ACKNOWLEDGED and "reports the lock closed" in reply.detail
    assert event.outcome is DoorOutcome.NOT_OPENED and sim.unlock_count(1, 8) == 1


def test_already_open_and_uncommanded(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    watcher = bus.watcher()
    assert watcher.poll() == []
    sim.open_door(1, 6)
    assert [(e.slot, e.outcome) for e in watcher.poll()] == [("A6", DoorOutcome.UNCOMMANDED_OPEN)]
    assert watcher.unlock_and_wait_open("A6", OPEN_WINDOW)[1].outcome is DoorOutcome.ALREADY_OPEN
    assert sim.unlock_count(1, 6) == 0


@pytest.mark.parametrize("fault", ["drop_next", "truncate_next", "corrupt_next", "delay_next", "noise_next"])
def test_a_lost_or_damaged_unlock_reply_never_unlocks_twice(
    bus: XorBoardLockerBus, sim: XorBoardSim, fault: str
) -> None:
    sim.faults.delay_s = 0.15  # longer than the driver's reply timeout
    for lock in range(1, 5):
        setattr(sim.faults, fault, 1)  # hits the unlock's reply
        reply = bus.unlock(f"A{lock}")
        assert reply.result is UnlockResult.ACKNOWLEDGED, reply
        _wait_door_open(bus, f"A{lock}")
        assert sim.unlock_count(1, lock) == 1, "the lock was pulsed more than once"
    if fault != "noise_next":  # noise may land beside the frame instead of inside it
        assert bus.lost_unlock_replies >= 4


def test_status_reads_survive_damaged_replies(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    sim.faults.corrupt_next = 1
    sim.faults.truncate_next = 1
    assert bus.door_states()["B1"].door is DoorState.CLOSED
    assert bus.bad_frames + bus.scanner.skipped_bytes > 0


def test_random_noise_and_faults_still_give_the_right_outcome(tmp_path: Path) -> None:
    faults = Faults(noise=0.3, drop=0.1, corrupt=0.1, truncate=0.1, seed=11)
    with XorBoardSim(boards=(1, 2), link=str(tmp_path / "noisy"), unlock_delay=0.03, faults=faults) as sim:
        bus = XorBoardLockerBus.from_config(bus_config(sim.url, retries=4))
        for lock in range(1, 9):
            _unlock_opens(bus, sim, f"B{lock}", 2, lock)
        assert sum(faults.counts.values()) > 0
        bus.close()


def test_unanswered_unlock_with_unreadable_board_is_not_retried(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    sim.faults.drop = 1.0
    with pytest.raises(DeviceTimeout, match="not retrying"):
        bus.unlock("A9")
    assert sim.unlock_count(1, 9) == 1


def test_a_lost_reply_on_a_stuck_lock_repeats_the_pulse_only_after_watching(sim: XorBoardSim) -> None:
    bus = XorBoardLockerBus.from_config(bus_config(sim.url, response_budget_ms=300))
    sim.set_stuck(1, 11)
    sim.faults.drop_next = 1
    assert bus.unlock("A11").result is UnlockResult.ACKNOWLEDGED
    assert sim.unlock_count(1, 11) == 2  # seen shut through settle_ms, so one more pulse
    bus.close()


def test_vanished_bus_is_offline_then_recovers(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    assert bus.door_states()["A1"].door is DoorState.CLOSED
    sim.vanish()
    with pytest.raises(BusOffline):
        bus.door_states()
    with pytest.raises(BusOffline):
        bus.unlock("A2")
    assert sim.unlock_count(1, 2) == 0
    sim.restore()
    _wait_online(bus)
    assert bus.transport.reopens == 1
    _unlock_opens(bus, sim, "A2", 1, 2)


def test_over_tcp_and_a_serial_server_that_drops_off() -> None:
    with XorBoardSim(boards=(1,), tcp=("127.0.0.1", 0), unlock_delay=0.03) as sim:
        bus = XorBoardLockerBus.from_config({"port": sim.url, "boards": [1], "slots": {"T1": [1, 1]}})
        _unlock_opens(bus, sim, "T1", 1, 1)
        sim.vanish()
        with pytest.raises(BusOffline):
            bus.door_states()
        sim.restore()
        _wait_online(bus)
        assert bus.door_states()["T1"].door is DoorState.OPEN
        bus.close()


@pytest.mark.parametrize(
    ("polarity", "extra"),
    [
        (Polarity(bit_set_closed=True), {"bitmap_bit_set": "closed"}),
        (Polarity(high_group_first=False), {"bitmap_order": "low_first"}),
        (Polarity(state_11_closed=False), {"state_11": "open", "read": "each"}),
    ],
)
def test_board_variants_from_the_sources(tmp_path: Path, polarity: Polarity, extra: dict[str, str]) -> None:
    with XorBoardSim(boards=(1,), link=str(tmp_path / "v"), polarity=polarity, unlock_delay=0.03) as sim:
        bus = XorBoardLockerBus.from_config({"port": sim.url, "boards": [{"address": 1} | extra]})
        sim.open_door(1, 17)
        states = bus.door_states()
        assert states["1-17"].door is DoorState.OPEN
        assert [s for s, v in states.items() if v.door is DoorState.OPEN] == ["1-17"]
        _unlock_opens(bus, sim, "1-2", 1, 2)
        bus.close()


def test_a_misconfigured_layout_reads_unknown_not_wrong(tmp_path: Path) -> None:
    with XorBoardSim(boards=(1,), channels=12, status_bytes=2, link=str(tmp_path / "twelve")) as sim:
        twelve = {"address": 1, "channels": 12}
        wrong = XorBoardLockerBus.from_config({"port": sim.url, "boards": [twelve], "retries": 0})
        assert {s.door for s in wrong.door_states().values()} == {DoorState.UNKNOWN}  # expects 3 bytes, gets 2
        wrong.close()
        right = {"port": sim.url, "boards": [{"address": 1, "channels": 12, "status_bytes": 2}]}
        bus = XorBoardLockerBus.from_config(right)
        assert {s.door for s in bus.door_states().values()} == {DoorState.CLOSED}
        bus.close()


def test_fifty_channel_board_and_one_lock_read(tmp_path: Path) -> None:
    with XorBoardSim(boards=(3,), channels=50, link=str(tmp_path / "fifty")) as sim:
        bus = XorBoardLockerBus.from_config({"port": sim.url, "boards": [{"address": 3, "channels": 50}]})
        sim.open_door(3, 50)
        assert bus.door_states()["3-50"].door is DoorState.OPEN
        assert bus.read_lock(3, 50) is DoorState.OPEN and bus.read_lock(3, 49) is DoorState.CLOSED
        bus.close()


def test_boards_that_do_not_answer_unlocks(tmp_path: Path) -> None:
    with XorBoardSim(boards=(1,), link=str(tmp_path / "silent"), answer_unlock=False, unlock_delay=0.03) as sim:
        bus = XorBoardLockerBus.from_config(bus_config(sim.url, boards=[1], slots={"A4": [1, 4]}, unlock_reply="none"))
        _unlock_opens(bus, sim, "A4", 1, 4)
        bus.close()


def test_unlock_all_pulses_every_lock_of_one_board(bus: XorBoardLockerBus, sim: XorBoardSim) -> None:
    assert bus.unlock_all(2).result is UnlockResult.ACKNOWLEDGED
    assert [sim.unlock_count(2, i) for i in range(1, 25)] == [1] * 24
    assert sim.unlock_count(1, 1) == 0
    with pytest.raises(KeyError, match="board 5"):
        bus.unlock_all(5)


def test_poll_cycle_floor_is_the_wire_time() -> None:
    bus = XorBoardLockerBus.from_config({"port": "loop://", "boards": [1, 2]})
    # 2 boards x (5-byte request + 7-byte reply = 120 bits at 9600 baud, + 3.5 characters of turnaround)
    assert bus.poll_cycle_floor() == pytest.approx(2 * (120 / 9600 + 35 / 9600))
