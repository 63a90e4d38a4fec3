"""Kerong KR-CU16 frame codec: `02 ADDR CMD 03 SUM` requests and `02 ADDR 35|36 D1 D2 D3 D4 03 SUM` status replies.

ADDR = board << 4 | lock; SUM = low byte of the sum of every preceding byte. D1/D2 are the lock-hook
bits of locks 1-8 / 9-16 (bit 0 = first lock), D3/D4 the infrared item sensors in the same order.
What a set bit means is board-specific (sources disagree), so decoding takes a `Polarity`.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import DoorState
from firmware_bridge.transport.framing import NEED_MORE, NOT_A_FRAME, FrameScanner

STX = 0x02
ETX = 0x03
CMD_STATUS = 0x30  # status of a board (the lock nibble is ignored: every lock of the board is reported)
CMD_UNLOCK = 0x31  # pulse one lock
CMD_STATUS_ALL = 0x32  # status of every board on the bus (ADDR 0xF0) or of one board
CMD_UNLOCK_ALL = 0x33  # pulse every lock of one board
REPLY_STATUS = 0x35  # answer to 0x30 / 0x31 / 0x33
REPLY_STATUS_ALL = 0x36  # answer to 0x32, one frame per board
BROADCAST = 0xF0
REQUEST_COMMANDS = frozenset({CMD_STATUS, CMD_UNLOCK, CMD_STATUS_ALL, CMD_UNLOCK_ALL})
REPLY_COMMANDS = frozenset({REPLY_STATUS, REPLY_STATUS_ALL})
REQUEST_LEN = 5
REPLY_LEN = 9
LOCKS_PER_BOARD = 16
MAX_BOARD = 14  # 0xF_ is the broadcast address


def checksum(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def address(board: int, lock: int = 0) -> int:
    if not 0 <= board <= MAX_BOARD:
        raise ValueError(f"board {board} is out of range 0..{MAX_BOARD} (set by the board's DIP switches)")
    if not 0 <= lock < LOCKS_PER_BOARD:
        raise ValueError(f"lock {lock} is out of range 0..15 (lock 1 on the board's silk screen is 0)")
    return board << 4 | lock


def _frame(addr: int, command: int) -> bytes:
    body = bytes((STX, addr, command, ETX))
    return body + bytes((checksum(body),))


def encode_status(board: int) -> bytes:
    return _frame(address(board), CMD_STATUS)


def encode_unlock(board: int, lock: int) -> bytes:
    return _frame(address(board, lock), CMD_UNLOCK)


def encode_status_all(board: int | None = None) -> bytes:
    return _frame(BROADCAST if board is None else address(board), CMD_STATUS_ALL)


def encode_unlock_all(board: int) -> bytes:
    return _frame(address(board), CMD_UNLOCK_ALL)


@dataclass(frozen=True, slots=True)
class Polarity:
    """What a set bit means on one board: `hook_set_closed` (D1/D2) and `sensor_set_present` (D3/D4)."""

    hook_set_closed: bool = True
    sensor_set_present: bool = True


@dataclass(frozen=True, slots=True)
class KerongRequest:
    board: int
    lock: int
    command: int

    @property
    def broadcast(self) -> bool:
        return self.board == BROADCAST >> 4


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """One decoded status reply: 16 hook bits and 16 sensor bits of one board (bit i = lock i)."""

    board: int
    lock: int
    command: int
    hooks: int
    sensors: int

    def door(self, lock: int, polarity: Polarity) -> DoorState:
        bit = bool(self.hooks >> lock & 1)
        return DoorState.CLOSED if bit == polarity.hook_set_closed else DoorState.OPEN

    def item_present(self, lock: int, polarity: Polarity) -> bool:
        return bool(self.sensors >> lock & 1) == polarity.sensor_set_present


def encode_status_reply(board: int, hooks: int, sensors: int, command: int = REPLY_STATUS, lock: int = 0) -> bytes:
    """Build a status reply (used by the simulator and by tests)."""
    body = bytes(
        (STX, address(board, lock), command, hooks & 0xFF, hooks >> 8 & 0xFF, sensors & 0xFF, sensors >> 8 & 0xFF, ETX)
    )
    return body + bytes((checksum(body),))


def _check(frame: bytes, length: int, commands: frozenset[int], what: str) -> None:
    if len(frame) != length:
        raise FrameError(f"a KR-CU16 {what} is {length} bytes, got {len(frame)}: {frame.hex(' ')}")
    if frame[0] != STX or frame[-2] != ETX:
        raise FrameError(f"KR-CU16 {what} must start with 02 and have 03 before the checksum: {frame.hex(' ')}")
    if checksum(frame[:-1]) != frame[-1]:
        raise FrameError(
            f"KR-CU16 {what} checksum is {frame[-1]:02x}, expected {checksum(frame[:-1]):02x}: {frame.hex(' ')}"
        )
    if frame[2] not in commands:
        raise FrameError(f"KR-CU16 {what} has unknown command {frame[2]:02x}: {frame.hex(' ')}")


def decode_request(frame: bytes) -> KerongRequest:
    _check(frame, REQUEST_LEN, REQUEST_COMMANDS, "request")
    return KerongRequest(frame[1] >> 4, frame[1] & 0x0F, frame[2])


def decode_reply(frame: bytes) -> BoardStatus:
    _check(frame, REPLY_LEN, REPLY_COMMANDS, "status reply")
    return BoardStatus(frame[1] >> 4, frame[1] & 0x0F, frame[2], frame[3] | frame[4] << 8, frame[5] | frame[6] << 8)


class KerongScanner(FrameScanner):
    """Finds KR-CU16 frames (requests and replies) in a byte stream; the length follows from the command."""

    start = bytes((STX,))

    def frame_length(self, buf: bytearray) -> int:
        if len(buf) < 3:
            return NEED_MORE
        command = buf[2]
        if command in REPLY_COMMANDS:
            return REPLY_LEN
        if command in REQUEST_COMMANDS:
            return REQUEST_LEN
        return NOT_A_FRAME

    def is_valid(self, frame: bytes) -> bool:
        return frame[-2] == ETX and sum(frame[:-1]) & 0xFF == frame[-1]
