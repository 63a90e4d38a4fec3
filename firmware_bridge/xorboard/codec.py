"""Frame codec of the 0x8A/0x80 "lock control boards" (12/24/48-channel RS-485 locker boards, XOR checksum).

Requests are five bytes `HEAD BOARD LOCK FUNC BCC`, BCC = XOR of the four bytes before it:
unlock `8A BB LL 11 BCC`, read `80 BB LL 33 BCC`; LOCK is 1-based on the wire and 0 means "every lock".
Replies: to an unlock or a one-lock read, `8A|80 BB LL SS BCC` with SS = 0x11 or 0x00 (which of them
means "closed" is board-specific); to a read of every lock, `80 BB S1..Sn 33 BCC`, a door bitmap of n
bytes whose length and byte order differ between boards. Sources and disagreements: docs/hardware.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import xor

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import DoorState
from firmware_bridge.transport.framing import NEED_MORE, NOT_A_FRAME, FrameScanner

HEAD_UNLOCK = 0x8A
HEAD_READ = 0x80
FUNC_UNLOCK = 0x11
FUNC_READ = 0x33
STATE_11 = 0x11
STATE_00 = 0x00
ALL_LOCKS = 0  # the lock byte that addresses every lock of a board
HEADS = frozenset({HEAD_UNLOCK, HEAD_READ})
FUNC_OF = {HEAD_UNLOCK: FUNC_UNLOCK, HEAD_READ: FUNC_READ}
FRAME_LEN = 5  # every request, and every reply except the bitmap
MAX_BITMAP_BYTES = 8  # 64 channels: above the largest board any source names (50)


def bcc(data: bytes | bytearray) -> int:
    """The block check character: XOR of every byte."""
    return reduce(xor, data, 0)


def _frame(head: int, board: int, lock: int, func: int) -> bytes:
    if not 0 <= board <= 0xFF:
        raise ValueError(f"board {board} is out of range 0..255 (the board's DIP-switch address)")
    if not 0 <= lock <= 0xFF:
        raise ValueError(f"lock {lock} is out of range: 1..channels, or 0 for every lock")
    body = bytes((head, board, lock, func))
    return body + bytes((bcc(body),))


def encode_unlock(board: int, lock: int) -> bytes:
    if lock == ALL_LOCKS:
        raise ValueError("lock 0 unlocks every lock of the board: use encode_unlock_all() to mean it")
    return _frame(HEAD_UNLOCK, board, lock, FUNC_UNLOCK)


def encode_unlock_all(board: int) -> bytes:
    return _frame(HEAD_UNLOCK, board, ALL_LOCKS, FUNC_UNLOCK)


def encode_read(board: int, lock: int) -> bytes:
    if lock == ALL_LOCKS:
        raise ValueError("lock 0 reads every lock of the board: use encode_read_all() to mean it")
    return _frame(HEAD_READ, board, lock, FUNC_READ)


def encode_read_all(board: int) -> bytes:
    return _frame(HEAD_READ, board, ALL_LOCKS, FUNC_READ)


@dataclass(frozen=True, slots=True)
class Polarity:
    """What a board's replies mean: the 0x11 state byte, a set bitmap bit, and the bitmap's byte order."""

    state_11_closed: bool = True  # SS = 0x11 means the door is closed (locked); 0x00 open
    bit_set_closed: bool = False  # in the read-all bitmap a set bit means open (both captured replies)
    high_group_first: bool = True  # the first bitmap byte holds the highest channels (S1 = last group)

    def state(self, state_byte: int) -> DoorState:
        if state_byte not in (STATE_11, STATE_00):
            return DoorState.UNKNOWN
        return DoorState.CLOSED if (state_byte == STATE_11) == self.state_11_closed else DoorState.OPEN

    def state_byte(self, door_open: bool) -> int:
        return STATE_11 if (not door_open) == self.state_11_closed else STATE_00

    def bit(self, bit_set: bool) -> DoorState:
        return DoorState.CLOSED if bit_set == self.bit_set_closed else DoorState.OPEN


@dataclass(frozen=True, slots=True)
class XorRequest:
    head: int
    board: int
    lock: int  # 0 = every lock
    func: int


@dataclass(frozen=True, slots=True)
class LockReply:
    """Answer to an unlock (head 0x8A) or a one-lock read (0x80): the state byte of one lock."""

    head: int
    board: int
    lock: int
    state_byte: int


@dataclass(frozen=True, slots=True)
class DoorBitmap:
    """Answer to a read of every lock: `bits` with bit i = channel i + 1 (normalised from the wire order)."""

    board: int
    bits: int
    channels: int  # bits the reply carried (8 x status bytes)

    def door(self, lock: int, polarity: Polarity) -> DoorState:
        if not 1 <= lock <= self.channels:
            return DoorState.UNKNOWN
        return polarity.bit(bool(self.bits >> (lock - 1) & 1))


def bitmap_bytes(bits: int, n_bytes: int, high_group_first: bool) -> bytes:
    groups = bits.to_bytes(n_bytes, "little")  # groups[0] = channels 1-8
    return groups[::-1] if high_group_first else groups


def encode_lock_reply(head: int, board: int, lock: int, state_byte: int) -> bytes:
    """Build a one-lock reply (the simulator's answer to an unlock or a one-lock read)."""
    body = bytes((head, board, lock, state_byte))
    return body + bytes((bcc(body),))


def encode_bitmap_reply(board: int, bits: int, n_bytes: int, high_group_first: bool = True) -> bytes:
    body = bytes((HEAD_READ, board)) + bitmap_bytes(bits, n_bytes, high_group_first) + bytes((FUNC_READ,))
    return body + bytes((bcc(body),))


def _check(frame: bytes, length: int, what: str) -> None:
    if len(frame) != length:
        raise FrameError(f"a lock-board {what} is {length} bytes, got {len(frame)}: {frame.hex(' ')}")
    if frame[0] not in HEADS:
        raise FrameError(f"lock-board {what} must start with 8A or 80, got {frame[0]:02x}: {frame.hex(' ')}")
    if bcc(frame[:-1]) != frame[-1]:
        raise FrameError(f"lock-board {what} BCC is {frame[-1]:02x}, expected {bcc(frame[:-1]):02x}: {frame.hex(' ')}")


def decode_request(frame: bytes) -> XorRequest:
    _check(frame, FRAME_LEN, "request")
    if frame[3] != FUNC_OF[frame[0]]:
        raise FrameError(f"lock-board request {frame[0]:02x} needs function {FUNC_OF[frame[0]]:02x}: {frame.hex(' ')}")
    return XorRequest(frame[0], frame[1], frame[2], frame[3])


def decode_lock_reply(frame: bytes) -> LockReply:
    _check(frame, FRAME_LEN, "lock reply")
    return LockReply(frame[0], frame[1], frame[2], frame[3])


def decode_bitmap_reply(frame: bytes, n_bytes: int, high_group_first: bool = True) -> DoorBitmap:
    _check(frame, n_bytes + 4, "read-all reply")
    if frame[0] != HEAD_READ or frame[-2] != FUNC_READ:
        raise FrameError(f"a read-all reply is 80 BB S1..S{n_bytes} 33 BCC: {frame.hex(' ')}")
    groups = frame[2:-2]
    ordered = groups[::-1] if high_group_first else groups
    return DoorBitmap(frame[1], int.from_bytes(ordered, "little"), 8 * n_bytes)


class XorScanner(FrameScanner):
    """Finds frames starting 8A or 80 in a byte stream. `bitmap_bytes` set: 80-frames are read-all replies
    of that many status bytes (the driver sets it around a read-all; a stream cannot tell the two apart)."""

    start = bytes((HEAD_UNLOCK,))

    def __init__(self, name: str = "", bitmap_bytes: int | None = None) -> None:
        super().__init__(name)
        self.bitmap_bytes = bitmap_bytes

    def find_start(self, buf: bytearray) -> int:
        a, b = buf.find(HEAD_UNLOCK), buf.find(HEAD_READ)
        return b if a < 0 else a if b < 0 else min(a, b)

    def begins(self, data: bytes) -> bool:
        return data[0] in HEADS

    def frame_length(self, buf: bytearray) -> int:
        if len(buf) < 1:
            return NEED_MORE
        if buf[0] == HEAD_READ and self.bitmap_bytes:
            return self.bitmap_bytes + 4
        return FRAME_LEN if buf[0] in HEADS else NOT_A_FRAME

    def is_valid(self, frame: bytes) -> bool:
        if frame[0] == HEAD_READ and self.bitmap_bytes and frame[-2] != FUNC_READ:
            return False
        return bcc(frame[:-1]) == frame[-1]
