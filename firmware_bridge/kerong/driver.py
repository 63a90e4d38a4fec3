"""Kerong KR-CU16 lock boards on one RS-485 bus as a `LockerBus`: unlock by slot name, door and item states.

The shared guard (`firmware_bridge.lockbus.BoardLockerBus`) never simply resends an unlock whose reply
was lost: it watches the board's status for `settle` seconds, and only if the door stayed shut (and the
board answered) does it pulse again. Sensed outcomes (opened / already_open / not_opened / closed /
uncommanded_open) come from `DoorWatcher`, which `watcher()` builds on top of this bus.

What polling can miss: the KR-CU16 status reply carries the hook bits as they are *now*; no latched
"opened since last read" bit is documented for it. A door opened and shut again between two reads of
its board is not seen. `poll_cycle_floor()` is the shortest full poll the line allows (docs/hardware.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

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
from firmware_bridge.kerong.config import KerongConfig
from firmware_bridge.lockbus import BoardLockerBus, GuardSettings
from firmware_bridge.protocols import DoorState, UnlockReply, UnlockResult
from firmware_bridge.transport.serial_port import SerialTransport


class KerongLockerBus(BoardLockerBus[BoardStatus]):
    """Implements `firmware_bridge.protocols.LockerBus` for one bus of KR-CU16 boards."""

    family = "Kerong board"

    def __init__(
        self,
        config: KerongConfig,
        transport: SerialTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        guard = GuardSettings(config.retries, config.settle, config.settle_poll, config.unlock_reply)
        transport = transport or SerialTransport(config.line, name=f"kerong@{config.line.url}")
        super().__init__(config.slots, [b.address for b in config.boards], transport, guard, monotonic)
        self.scanner = KerongScanner(f"kerong@{config.line.url}")
        self._boards = {b.address: b for b in config.boards}
        self._timeout = config.line.reply_timeout(REQUEST_LEN, REPLY_LEN, config.response_budget)
        self._status_frames = {a: encode_status(a) for a in self._boards}
        self._accept = {a: self._acceptor(a) for a in self._boards}
        self._unlock_frames = {(b, lk): encode_unlock(b, lk) for _, b, lk in config.slots}

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> KerongLockerBus:
        return cls(KerongConfig.from_config(raw))

    @property
    def bad_frames(self) -> int:
        return self.scanner.bad_frames

    def poll_cycle_floor(self) -> float:
        """Seconds one `door_states()` takes at least: every board's request and reply on the wire, plus turnaround.

        The boards' own answer time comes on top (a few ms each, at most `response_budget_ms`)."""
        line = self.config.line
        return len(self._boards) * (line.wire_time(REQUEST_LEN + REPLY_LEN) + line.turnaround)

    # -- BoardLockerBus hooks -------------------------------------------------------------------------------
    def read_board(self, board: int) -> BoardStatus:
        """Status of one board (all 16 locks), retried `retries` times on a lost or bad reply."""
        frame, accept = self._status_frames[board], self._accept[board]
        return self.retried(lambda: self.transport.transact(frame, self.scanner, accept, self._timeout))

    def door_of(self, board: int, lock: int, reading: BoardStatus) -> DoorState:
        return reading.door(lock, self._boards[board].polarity)

    def item_of(self, board: int, lock: int, reading: BoardStatus) -> bool | None:
        spec = self._boards[board]
        return reading.item_present(lock, spec.polarity) if spec.item_sensors else None

    def send_unlock(self, board: int, lock: int) -> str:
        self.transport.transact(self._unlock_frames[board, lock], self.scanner, self._accept[board], self._timeout)
        return ""

    def write_unlock(self, board: int, lock: int) -> None:
        self.transport.write(self._unlock_frames[board, lock])

    # -- board-level ----------------------------------------------------------------------------------
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

    def _acceptor(self, board: int) -> Callable[[bytes], BoardStatus | None]:
        def accept(frame: bytes) -> BoardStatus | None:
            # the scanner has validated length, end byte and checksum; only the meaning is left to check
            if frame[2] in REPLY_COMMANDS and frame[1] >> 4 == board and len(frame) == REPLY_LEN:
                return BoardStatus(board, frame[1] & 0x0F, frame[2], frame[3] | frame[4] << 8, frame[5] | frame[6] << 8)
            return None  # a request echo, another board's reply: not ours

        return accept
