"""Kerong KR-CU16 lock boards on one RS-485 bus as a `LockerBus`: unlock by slot name, door and item states.

An unlock whose reply is lost is never simply resent: the driver first watches the board's status
for `settle` seconds, and only if the door stayed shut (and the board answered) does it pulse again.
Sensed outcomes (opened / already_open / not_opened / closed / uncommanded_open) come from
`DoorWatcher`, which `watcher()` builds on top of this bus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.errors import DeviceTimeout
from firmware_bridge.kerong.codec import (
    REPLY_COMMANDS,
    REPLY_LEN,
    REQUEST_LEN,
    BoardStatus,
    KerongScanner,
    encode_status,
    encode_unlock,
    encode_unlock_all,
)
from firmware_bridge.kerong.config import KerongBoard, KerongConfig
from firmware_bridge.protocols import DoorState, SlotState, UnlockReply, UnlockResult
from firmware_bridge.transport.serial_port import SerialTransport

log = logging.getLogger(__name__)


class KerongLockerBus:
    """Implements `firmware_bridge.protocols.LockerBus` for one bus of KR-CU16 boards."""

    def __init__(
        self,
        config: KerongConfig,
        transport: SerialTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.transport = transport or SerialTransport(config.line, name=f"kerong@{config.line.url}")
        self.scanner = KerongScanner(f"kerong@{config.line.url}")
        self._monotonic = monotonic
        self._boards = {b.address: b for b in config.boards}
        self._slot_map = {name: (board, lock) for name, board, lock in config.slots}
        self._slot_names = tuple(name for name, _, _ in config.slots)
        self._timeout = config.line.reply_timeout(REQUEST_LEN, REPLY_LEN, config.response_budget)
        self._status_frames = {a: encode_status(a) for a in self._boards}
        self._accept = {a: self._acceptor(a) for a in self._boards}
        self._unlock_frames = {(b, lk): encode_unlock(b, lk) for _, b, lk in config.slots}
        self._acknowledged = {
            name: UnlockReply(name, UnlockResult.ACKNOWLEDGED, "board answered the unlock") for name in self._slot_names
        }  # frozen, so one per slot is reused instead of allocating per unlock
        self._unlock_lock = threading.Lock()
        self._silent_boards: set[int] = set()
        self.unlocks_sent = 0
        self.lost_unlock_replies = 0

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> KerongLockerBus:
        return cls(KerongConfig.from_config(raw))

    def close(self) -> None:
        self.transport.close()

    def watcher(self, poll_interval: float = 0.05) -> DoorWatcher:
        return DoorWatcher(self, poll_interval=poll_interval, monotonic=self._monotonic)

    @property
    def bad_frames(self) -> int:
        return self.scanner.bad_frames

    # -- LockerBus --------------------------------------------------------------------------------
    def slots(self) -> Sequence[str]:
        return self._slot_names

    def door_states(self) -> Mapping[str, SlotState]:
        """Read every board once; slots of a board that did not answer are UNKNOWN. BusOffline propagates."""
        statuses: dict[int, BoardStatus | None] = {}
        for address in self._boards:
            try:
                statuses[address] = self.read_board(address)
            except DeviceTimeout as exc:
                if address not in self._silent_boards:  # log the change, not every poll
                    self._silent_boards.add(address)
                    log.warning("board %d stopped answering; its doors read unknown: %s", address, exc)
                statuses[address] = None
            else:
                if address in self._silent_boards:
                    self._silent_boards.discard(address)
                    log.warning("board %d answers again", address)
        states: dict[str, SlotState] = {}
        for name, board, lock in self.config.slots:
            status = statuses[board]
            states[name] = self._slot_state(name, self._boards[board], lock, status)
        return states

    def unlock(self, slot: str) -> UnlockReply:
        board, lock = self._where(slot)
        with self._unlock_lock:
            if self.config.unlock_reply == "none":
                return self._unlock_silent(slot, board, lock)
            frame = self._unlock_frames[board, lock]
            accept = self._accept[board]
            for attempt in range(self.config.retries + 1):
                self.unlocks_sent += 1
                try:
                    self.transport.transact(frame, self.scanner, accept, self._timeout)
                    return self._acknowledged[slot]
                except DeviceTimeout:
                    self.lost_unlock_replies += 1
                seen = self._watch_after_lost_reply(board, lock)
                if seen is DoorState.OPEN:
                    return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, "unlock reply lost; the door is open")
                if seen is DoorState.UNKNOWN:
                    raise DeviceTimeout(
                        f"board {board}: the unlock reply for {slot} was lost and its status cannot be read; "
                        "not retrying, to avoid a double unlock. Check the bus and the board's power."
                    )
                if attempt < self.config.retries:
                    log.warning("board %s: unlock of %s unanswered, door stayed shut; pulsing again", board, slot)
            raise DeviceTimeout(
                f"board {board}: no answer to {self.config.retries + 1} unlocks of {slot} while it answers status "
                "reads; the lock may be stuck or the board firmware does not answer unlocks (set unlock_reply)"
            )

    # -- board-level ----------------------------------------------------------------------------------
    def read_board(self, board: int) -> BoardStatus:
        """Status of one board (all 16 locks), retried `retries` times on a lost or bad reply."""
        frame = self._status_frames[board]
        accept = self._accept[board]
        for attempt in range(self.config.retries + 1):
            try:
                return self.transport.transact(frame, self.scanner, accept, self._timeout)
            except DeviceTimeout:
                if attempt == self.config.retries:
                    raise
        raise AssertionError("unreachable")

    def unlock_all(self, board: int) -> UnlockReply:
        """Pulse every lock of one board (service use: restocking, emergencies). Never retried."""
        if board not in self._boards:
            raise KeyError(f"board {board} is not configured; configured boards: {sorted(self._boards)}")
        with self._unlock_lock:
            self.unlocks_sent += 1
            if self.config.unlock_reply == "none":
                self.transport.write(encode_unlock_all(board))
                self.read_board(board)
            else:
                self.transport.transact(encode_unlock_all(board), self.scanner, self._accept[board], self._timeout)
        return UnlockReply(f"board {board}", UnlockResult.ACKNOWLEDGED, "unlock-all answered")

    # -- internals ----------------------------------------------------------------------------------------
    def _acceptor(self, board: int) -> Callable[[bytes], BoardStatus | None]:
        def accept(frame: bytes) -> BoardStatus | None:
            # the scanner has validated length, end byte and checksum; only the meaning is left to check
            if frame[2] in REPLY_COMMANDS and frame[1] >> 4 == board and len(frame) == REPLY_LEN:
                return BoardStatus(board, frame[1] & 0x0F, frame[2], frame[3] | frame[4] << 8, frame[5] | frame[6] << 8)
            return None  # a request echo, another board's reply: not ours

        return accept

    def _where(self, slot: str) -> tuple[int, int]:
        try:
            return self._slot_map[slot]
        except KeyError:
            raise KeyError(f"unknown slot {slot!r}; this bus has {', '.join(self._slot_names[:8])}...") from None

    def _slot_state(self, name: str, board: KerongBoard, lock: int, status: BoardStatus | None) -> SlotState:
        if status is None:
            return SlotState(name, DoorState.UNKNOWN, None)
        item = status.item_present(lock, board.polarity) if board.item_sensors else None
        return SlotState(name, status.door(lock, board.polarity), item)

    def _watch_after_lost_reply(self, board: int, lock: int) -> DoorState:
        """Watch the door for `settle` s: OPEN as soon as it opens, CLOSED if it stayed shut, UNKNOWN if unreadable."""
        polarity = self._boards[board].polarity
        deadline = self._monotonic() + self.config.settle
        seen = DoorState.UNKNOWN
        while True:
            try:
                state = self.read_board(board).door(lock, polarity)
            except DeviceTimeout:
                state = DoorState.UNKNOWN
            if state is DoorState.OPEN:
                return state
            if state is DoorState.CLOSED:
                seen = state
            if self._monotonic() >= deadline:
                return seen
            time.sleep(self.config.settle_poll)

    def _unlock_silent(self, slot: str, board: int, lock: int) -> UnlockReply:
        """Boards that do not answer unlocks: send once, then prove the board is there with a status read."""
        self.unlocks_sent += 1
        with self.transport.lock:
            self.transport.drain()
            self.transport.write(self._unlock_frames[board, lock])
        self.read_board(board)
        return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, "unlock sent; board answers status")
