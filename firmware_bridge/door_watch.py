"""Turns door-state polling of any LockerBus into sensed outcomes (opened, not opened, closed, uncommanded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from firmware_bridge.errors import BusOffline
from firmware_bridge.protocols import DoorEvent, DoorOutcome, DoorState, LockerBus, UnlockReply, UnlockResult


class DoorWatcher:
    """Wraps a LockerBus: unlock-and-wait with windows, and a poll that reports uncommanded openings.

    `poll_interval` is how often door states are read while waiting; `monotonic` is injectable for tests.
    """

    def __init__(
        self, bus: LockerBus, poll_interval: float = 0.05, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.bus = bus
        self.poll_interval = poll_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last: dict[str, DoorState] = {}
        self._commanded: dict[str, float] = {}  # slot -> monotonic time of our last unlock

    def unlock_and_wait_open(self, slot: str, open_window: float) -> tuple[UnlockReply, DoorEvent]:
        """Unlock and watch for the opening. Raises BusOffline when the door cannot be read at all:
        a door we cannot see is never unlocked blind, and "never opened" would blame the worker."""
        before = self.bus.door_states()[slot].door
        if before is DoorState.UNKNOWN:
            raise BusOffline(
                f"door {slot} cannot be read (its board does not answer): nothing was unlocked; "
                "check the board's power, address and bus wiring"
            )
        if before is DoorState.OPEN:
            now = self._monotonic()
            return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, "door was open"), DoorEvent(
                slot, DoorOutcome.ALREADY_OPEN, now, "the door was open before the unlock"
            )
        with self._lock:
            self._commanded[slot] = self._monotonic()
        reply = self.bus.unlock(slot)
        if reply.result is not UnlockResult.ACKNOWLEDGED:
            return reply, DoorEvent(slot, DoorOutcome.NOT_OPENED, self._monotonic(), f"unlock refused: {reply.detail}")
        deadline = self._monotonic() + open_window
        seen = False  # did any read in the window give a real door state?
        while self._monotonic() < deadline:
            door = self.bus.door_states()[slot].door
            if door is DoorState.OPEN:
                self._remember(slot, DoorState.OPEN)
                return reply, DoorEvent(slot, DoorOutcome.OPENED, self._monotonic())
            seen = seen or door is DoorState.CLOSED
            time.sleep(self.poll_interval)
        if not seen:
            raise BusOffline(
                f"door {slot} could not be read for {open_window:g} s after its unlock was acknowledged: "
                "the board stopped answering; check power and wiring before trusting this slot"
            )
        return reply, DoorEvent(
            slot, DoorOutcome.NOT_OPENED, self._monotonic(), f"no opening within {open_window:g} s of the unlock"
        )

    def wait_closed(self, slot: str, close_window: float) -> DoorEvent:
        deadline = self._monotonic() + close_window
        while True:
            if self.bus.door_states()[slot].door is DoorState.CLOSED:
                self._remember(slot, DoorState.CLOSED)
                with self._lock:
                    self._commanded.pop(slot, None)
                return DoorEvent(slot, DoorOutcome.CLOSED, self._monotonic())
            if self._monotonic() >= deadline:
                return DoorEvent(
                    slot, DoorOutcome.STILL_OPEN, self._monotonic(), f"door still open {close_window:g} s after opening"
                )
            time.sleep(self.poll_interval)

    def poll(self, commanded_grace: float = 30.0) -> list[DoorEvent]:
        """Read every door once; report openings nobody commanded and closings since the last poll."""
        events: list[DoorEvent] = []
        now = self._monotonic()
        for slot, state in self.bus.door_states().items():
            if state.door is DoorState.UNKNOWN:
                continue  # a missed read is not a change: remembering it would report a false closed/opened later
            previous = self._last.get(slot)
            self._remember(slot, state.door)
            if previous is None or previous is state.door:
                continue
            if state.door is DoorState.OPEN:
                with self._lock:
                    commanded_at = self._commanded.get(slot)
                if commanded_at is None or now - commanded_at > commanded_grace:
                    events.append(DoorEvent(slot, DoorOutcome.UNCOMMANDED_OPEN, now, "opened with no unlock behind it"))
                else:
                    events.append(DoorEvent(slot, DoorOutcome.OPENED, now))
            elif state.door is DoorState.CLOSED:
                with self._lock:
                    self._commanded.pop(slot, None)
                events.append(DoorEvent(slot, DoorOutcome.CLOSED, now))
        return events

    def _remember(self, slot: str, state: DoorState) -> None:
        with self._lock:
            self._last[slot] = state
