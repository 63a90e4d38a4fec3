"""DoorWatcher over a real relay-board simulator: a door it cannot read is never unlocked blind."""

from __future__ import annotations

import pytest

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.errors import BusOffline
from firmware_bridge.protocols import DoorOutcome
from firmware_bridge.sim.relayboard import RelayBoardSimulator
from tests.firmware_bridge.modbus.test_relay_locker import make_locker, url_of


def test_absent_board_raises_bus_offline_and_pulses_nothing() -> None:
    sim = RelayBoardSimulator(device_ids=(1,))  # board 2 (slot B1) is not on the bus
    locker = make_locker(url_of(sim, "tcp"))
    try:
        watcher = DoorWatcher(locker, poll_interval=0.01)
        with pytest.raises(BusOffline, match="door B1 cannot be read"):
            watcher.unlock_and_wait_open("B1", open_window=0.3)
        sim.board(1).person_takes(0, open_after=0.05, hold=0.3)
        _reply, opened = watcher.unlock_and_wait_open("A1", open_window=2.0)
        assert opened.outcome is DoorOutcome.OPENED
        assert len(sim.board(1).pulses(0)) == 1
    finally:
        locker.close()
        sim.stop()


def test_board_that_vanishes_after_the_unlock_is_reported_offline_not_unopened() -> None:
    sim = RelayBoardSimulator(device_ids=(1, 2))
    locker = make_locker(url_of(sim, "tcp"))
    try:
        watcher = DoorWatcher(locker, poll_interval=0.01)
        assert {s.door.value for s in locker.door_states().values()} == {"closed"}
        sim.board(1).person_takes(0, open_after=60.0, hold=1.0)  # nobody opens within the window
        original_unlock = locker.unlock

        def unlock_then_vanish(slot: str):  # type: ignore[no-untyped-def]
            reply = original_unlock(slot)
            sim.inject("no_reply", device_id=1)
            return reply

        locker.unlock = unlock_then_vanish  # type: ignore[method-assign]
        with pytest.raises(BusOffline, match="could not be read"):
            watcher.unlock_and_wait_open("A1", open_window=0.5)
    finally:
        locker.close()
        sim.stop()
