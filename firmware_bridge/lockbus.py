"""What every serial lock-board `LockerBus` shares: slot map, board polling, and the no-double-unlock guard.

A board family (Kerong KR-CU16, the 0x8A/0x80 XOR boards) subclasses `BoardLockerBus` with three hooks:
`read_board` (one status read of one board, raising `DeviceTimeout`), `door_of`/`item_of` (what a
reading says about one lock) and `send_unlock` (one pulse, waiting for the board's answer). The guard is
here, once: an unlock whose reply is lost is never simply resent; the door is watched for `settle`
seconds first, and only a door seen shut on a board that answers is pulsed again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.errors import DeviceTimeout
from firmware_bridge.protocols import DoorState, SlotState, UnlockReply, UnlockResult
from firmware_bridge.transport.serial_port import SerialTransport

log = logging.getLogger(__name__)
Reading = TypeVar("Reading")  # one decoded status reply of one board
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """How hard to try: `retries` extra status reads / guarded re-pulses, `settle` s of watching after a lost reply."""

    retries: int = 2
    settle: float = 0.5
    settle_poll: float = 0.05
    unlock_reply: str = "status"  # "status": the board answers an unlock; "none": it is silent


class BoardLockerBus(Generic[Reading]):
    """Implements `LockerBus` for lock boards on one serial bus; subclasses supply the frames."""

    family = "lock board"

    def __init__(
        self,
        slots: Sequence[tuple[str, int, int]],
        boards: Sequence[int],
        transport: SerialTransport,
        guard: GuardSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.guard = guard
        self._monotonic = monotonic
        self._board_ids = tuple(boards)
        self._slot_list = tuple(slots)
        self._slot_map = {name: (board, lock) for name, board, lock in slots}
        self._slot_names = tuple(name for name, _, _ in slots)
        self._acknowledged = {
            name: UnlockReply(name, UnlockResult.ACKNOWLEDGED, "board answered the unlock") for name in self._slot_names
        }  # frozen, so one per slot is reused instead of allocating per unlock
        self._unlock_lock = threading.Lock()
        self._silent_boards: set[int] = set()
        self.unlocks_sent = 0
        self.lost_unlock_replies = 0

    # -- hooks a board family implements ------------------------------------------------------------------
    def read_board(self, board: int) -> Reading:
        """Status of one board, retried `guard.retries` times; DeviceTimeout when it stays silent."""
        raise NotImplementedError

    def door_of(self, board: int, lock: int, reading: Reading) -> DoorState:
        raise NotImplementedError

    def item_of(self, board: int, lock: int, reading: Reading) -> bool | None:
        return None

    def send_unlock(self, board: int, lock: int) -> str:
        """Pulse one lock and wait for the board's answer; return a detail, raise DeviceTimeout when it is lost."""
        raise NotImplementedError

    def write_unlock(self, board: int, lock: int) -> None:
        """Pulse one lock on a board that does not answer unlocks (no reply is awaited)."""
        raise NotImplementedError

    # -- LockerBus --------------------------------------------------------------------------------------------
    def slots(self) -> Sequence[str]:
        return self._slot_names

    def door_states(self) -> Mapping[str, SlotState]:
        """Read every board once; slots of a board that did not answer are UNKNOWN. BusOffline propagates."""
        readings: dict[int, Reading | None] = {}
        for board in self._board_ids:
            try:
                readings[board] = self.read_board(board)
            except DeviceTimeout as exc:
                if board not in self._silent_boards:  # log the change, not every poll
                    self._silent_boards.add(board)
                    log.warning("%s %d stopped answering; its doors read unknown: %s", self.family, board, exc)
                readings[board] = None
            else:
                if board in self._silent_boards:
                    self._silent_boards.discard(board)
                    log.warning("%s %d answers again", self.family, board)
        states: dict[str, SlotState] = {}
        for name, board, lock in self._slot_list:
            reading = readings[board]
            if reading is None:
                states[name] = SlotState(name, DoorState.UNKNOWN, None)
            else:
                states[name] = SlotState(name, self.door_of(board, lock, reading), self.item_of(board, lock, reading))
        return states

    def unlock(self, slot: str) -> UnlockReply:
        board, lock = self.where(slot)
        with self._unlock_lock:
            if self.guard.unlock_reply == "none":
                self.unlocks_sent += 1
                with self.transport.lock:
                    self.transport.drain()
                    self.write_unlock(board, lock)
                self.read_board(board)  # proves the board is there
                return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, "unlock sent; board answers status")
            for attempt in range(self.guard.retries + 1):
                self.unlocks_sent += 1
                try:
                    detail = self.send_unlock(board, lock)
                except DeviceTimeout:
                    self.lost_unlock_replies += 1
                else:
                    if detail:
                        return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, detail)
                    return self._acknowledged[slot]
                seen = self.watch_after_lost_reply(board, lock)
                if seen is DoorState.OPEN:
                    return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, "unlock reply lost; the door is open")
                if seen is DoorState.UNKNOWN:
                    raise DeviceTimeout(
                        f"{self.family} {board}: the unlock reply for {slot} was lost and its status cannot be read; "
                        "not retrying, to avoid a double unlock. Check the bus and the board's power."
                    )
                if attempt < self.guard.retries:
                    log.warning("%s %s: unlock of %s unanswered, door shut; pulsing again", self.family, board, slot)
            raise DeviceTimeout(
                f"{self.family} {board}: no answer to {self.guard.retries + 1} unlocks of {slot} while it answers "
                "status reads; the lock may be stuck or the board firmware does not answer unlocks (set unlock_reply)"
            )

    def watcher(self, poll_interval: float = 0.05) -> DoorWatcher:
        return DoorWatcher(self, poll_interval=poll_interval, monotonic=self._monotonic)

    def close(self) -> None:
        self.transport.close()

    # -- shared internals -------------------------------------------------------------------------------------
    def where(self, slot: str) -> tuple[int, int]:
        try:
            return self._slot_map[slot]
        except KeyError:
            raise KeyError(f"unknown slot {slot!r}; this bus has {', '.join(self._slot_names[:8])}...") from None

    def retried(self, read: Callable[[], T]) -> T:
        """Run one status exchange up to `retries + 1` times; the last DeviceTimeout propagates."""
        for attempt in range(self.guard.retries + 1):
            try:
                return read()
            except DeviceTimeout:
                if attempt == self.guard.retries:
                    raise
        raise AssertionError("unreachable")

    def watch_after_lost_reply(self, board: int, lock: int) -> DoorState:
        """Watch the door for `settle` s: OPEN as soon as it opens, CLOSED if it stayed shut, UNKNOWN if unreadable."""
        deadline = self._monotonic() + self.guard.settle
        seen = DoorState.UNKNOWN
        while True:
            try:
                state = self.door_of(board, lock, self.read_board(board))
            except DeviceTimeout:
                state = DoorState.UNKNOWN
            if state is DoorState.OPEN:
                return state
            if state is DoorState.CLOSED:
                seen = state
            if self._monotonic() >= deadline:
                return seen
            time.sleep(self.guard.settle_poll)
