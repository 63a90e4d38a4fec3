"""0x8A/0x80 XOR lock boards on one RS-485 bus as a `LockerBus` (the guard is shared with Kerong's driver).

Door states come from one read-all (`80 BB 00 33`) per board, or from one read per lock for boards
whose bitmap layout is unknown (`read: "each"`). The board answers an unlock with the lock's state
right after the pulse; that is reported as a detail, never as the door's outcome: "opened" comes only
from polling (`watcher()`), as for every LockerBus. A lost unlock reply is handled by the shared guard
in `firmware_bridge.lockbus`: watch first, pulse again only when the door was seen shut.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from firmware_bridge.lockbus import BoardLockerBus, GuardSettings
from firmware_bridge.protocols import DoorState, UnlockReply, UnlockResult
from firmware_bridge.transport.serial_port import SerialTransport
from firmware_bridge.xorboard.codec import (
    FRAME_LEN,
    FUNC_READ,
    HEAD_READ,
    HEAD_UNLOCK,
    DoorBitmap,
    LockReply,
    XorScanner,
    decode_bitmap_reply,
    encode_read,
    encode_read_all,
    encode_unlock,
    encode_unlock_all,
)
from firmware_bridge.xorboard.config import XorBoard, XorBoardConfig

BoardDoors = dict[int, DoorState]  # lock (1-based) -> door state, for the configured locks of one board


class XorBoardLockerBus(BoardLockerBus[BoardDoors]):
    """Implements `firmware_bridge.protocols.LockerBus` for one bus of 0x8A/0x80 lock control boards."""

    family = "lock board"

    def __init__(
        self,
        config: XorBoardConfig,
        transport: SerialTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        guard = GuardSettings(config.retries, config.settle, config.settle_poll, config.unlock_reply)
        transport = transport or SerialTransport(config.line, name=f"xorboard@{config.line.url}")
        super().__init__(config.slots, [b.address for b in config.boards], transport, guard, monotonic)
        self.scanner = XorScanner(f"xorboard@{config.line.url}")
        self._boards = {b.address: b for b in config.boards}
        self._locks = {a: sorted({lk for _, b, lk in config.slots if b == a}) for a in self._boards}
        budget = config.response_budget
        self._lock_timeout = config.line.reply_timeout(FRAME_LEN, FRAME_LEN, budget)
        self._all_timeout = {
            a: config.line.reply_timeout(FRAME_LEN, b.status_bytes + 4, budget) for a, b in self._boards.items()
        }

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> XorBoardLockerBus:
        return cls(XorBoardConfig.from_config(raw))

    @property
    def bad_frames(self) -> int:
        return self.scanner.bad_frames

    def poll_cycle_floor(self) -> float:
        """Seconds one `door_states()` takes at least: every request and reply on the wire, plus turnaround.

        The boards' own answer time comes on top (a few ms each, at most `response_budget_ms`)."""
        line, total = self.config.line, 0.0
        for address, board in self._boards.items():
            if board.read == "all":
                total += line.wire_time(FRAME_LEN + board.status_bytes + 4) + line.turnaround
            else:
                total += len(self._locks[address]) * (line.wire_time(2 * FRAME_LEN) + line.turnaround)
        return total

    # -- BoardLockerBus hooks -------------------------------------------------------------------------------
    def read_board(self, board: int) -> BoardDoors:
        spec = self._boards[board]
        if spec.read == "all":
            bitmap = self.retried(lambda: self._read_all(spec))
            return {lock: bitmap.door(lock, spec.polarity) for lock in self._locks[board]}
        return {lock: self._read_state(spec, lock) for lock in self._locks[board]}

    def door_of(self, board: int, lock: int, reading: BoardDoors) -> DoorState:
        return reading.get(lock, DoorState.UNKNOWN)

    def send_unlock(self, board: int, lock: int) -> str:
        reply = self._exchange(encode_unlock(board, lock), self._lock_acceptor(HEAD_UNLOCK, board, lock), None)
        reported = self._boards[board].polarity.state(reply.state_byte)
        return f"board answered the unlock; it reports the lock {reported.value} (state {reply.state_byte:02x})"

    def write_unlock(self, board: int, lock: int) -> None:
        self.transport.write(encode_unlock(board, lock))

    # -- board-level ----------------------------------------------------------------------------------------
    def read_lock(self, board: int, lock: int) -> DoorState:
        """One lock's door through the one-lock read (`80 BB LL 33`), whatever the board's read mode."""
        if board not in self._boards:
            raise KeyError(f"board {board} is not configured; configured boards: {sorted(self._boards)}")
        return self._read_state(self._boards[board], lock)

    def unlock_all(self, board: int) -> UnlockReply:
        """Pulse every lock of one board (`8A BB 00 11`; service use). Never retried; the board must answer a read."""
        if board not in self._boards:
            raise KeyError(f"board {board} is not configured; configured boards: {sorted(self._boards)}")
        with self._unlock_lock:
            self.unlocks_sent += 1
            with self.transport.lock:
                self.transport.drain()
                self.transport.write(encode_unlock_all(board))
            self.read_board(board)
        return UnlockReply(f"board {board}", UnlockResult.ACKNOWLEDGED, "unlock-all sent; the board answers reads")

    # -- internals ------------------------------------------------------------------------------------------
    def _read_all(self, spec: XorBoard) -> DoorBitmap:
        n, board = spec.status_bytes, spec.address

        def accept(frame: bytes) -> DoorBitmap | None:
            if frame[0] == HEAD_READ and frame[1] == board and len(frame) == n + 4:
                return decode_bitmap_reply(frame, n, spec.polarity.high_group_first)
            return None

        return self._exchange(encode_read_all(board), accept, n, self._all_timeout[board])

    def _read_state(self, spec: XorBoard, lock: int) -> DoorState:
        reply = self.retried(lambda: self._read_one(spec.address, lock))
        return spec.polarity.state(reply.state_byte)

    def _read_one(self, board: int, lock: int) -> LockReply:
        return self._exchange(encode_read(board, lock), self._lock_acceptor(HEAD_READ, board, lock), None)

    def _exchange(
        self, request: bytes, accept: Callable[[bytes], Any], bitmap_bytes: int | None, timeout: float | None = None
    ) -> Any:
        with self.transport.lock:  # the scanner's expectation belongs to this one exchange
            if self.scanner.bitmap_bytes != bitmap_bytes:
                self.scanner.reset()
                self.scanner.bitmap_bytes = bitmap_bytes
            return self.transport.transact(request, self.scanner, accept, timeout or self._lock_timeout)

    @staticmethod
    def _lock_acceptor(head: int, board: int, lock: int) -> Callable[[bytes], LockReply | None]:
        def accept(frame: bytes) -> LockReply | None:
            if len(frame) == FRAME_LEN and frame[0] == head and frame[1] == board and frame[2] == lock:
                if head == HEAD_READ and frame[3] == FUNC_READ:
                    return None  # our own read echoed by the adapter (33 where the state goes)
                return LockReply(head, board, lock, frame[3])
            return None  # another board's or lock's frame
            # An echoed unlock `8A BB LL 11` cannot be told from a "still closed" reply; it is only a detail.

        return accept
