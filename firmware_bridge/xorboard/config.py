"""Configuration of a bus of 0x8A/0x80 XOR lock boards: line, boards with their reply layout and polarity, slots.

Stored by vending as JSON in a machine row, e.g.::

    {"port": "/dev/ttyUSB0", "baud": 9600,
     "boards": [{"address": 1, "channels": 24, "status_bytes": 3, "state_11": "closed",
                 "bitmap_bit_set": "open", "bitmap_order": "high_first", "read": "all"}],
     "slots": {"A1": [1, 1], "A2": [1, 2]},
     "response_budget_ms": 150, "retries": 2, "unlock_reply": "state", "settle_ms": 500}

Locks are numbered as on the wire and on the board's silk screen: 1..channels (0 means "every lock").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.transport.line import LineSettings, optional, require
from firmware_bridge.xorboard.codec import MAX_BITMAP_BYTES, Polarity

UNLOCK_REPLY_MODES = ("state", "none")
READ_MODES = ("all", "each")
MAX_CHANNELS = 8 * MAX_BITMAP_BYTES


def default_status_bytes(channels: int) -> int:
    """Three status bytes up to 24 channels (the 24-channel protocol and a verified 8-channel board), else one per 8."""
    return max(3, -(-channels // 8))


@dataclass(frozen=True, slots=True)
class XorBoard:
    address: int
    channels: int = 24
    status_bytes: int = 3
    polarity: Polarity = field(default_factory=Polarity)
    read: str = "all"  # "all": one read-all (bitmap) per poll; "each": one read per configured lock


@dataclass(frozen=True, slots=True)
class XorBoardConfig:
    line: LineSettings
    boards: tuple[XorBoard, ...]
    slots: tuple[tuple[str, int, int], ...]  # (slot name, board address, lock 1..channels)
    response_budget: float = 0.15
    retries: int = 2
    unlock_reply: str = "state"  # "state": the board answers an unlock with the lock's state; "none": silent
    settle: float = 0.5
    settle_poll: float = 0.05

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> XorBoardConfig:
        where = "xorboard"
        if not isinstance(raw, Mapping):
            raise ConfigError("xorboard config must be a JSON object with port, boards and slots")
        line = LineSettings.from_config(raw, default_baud=9600, where=where)
        boards_raw = require(raw, "boards", list, where)
        if not boards_raw:
            raise ConfigError('xorboard.boards is empty: list at least one board, e.g. [{"address": 1}]')
        boards = tuple(_board(b, i) for i, b in enumerate(boards_raw))
        addresses = [b.address for b in boards]
        if len(set(addresses)) != len(addresses):
            raise ConfigError(f"xorboard.boards repeats an address: {addresses}; each board needs its own DIP setting")
        slots = _slots(raw.get("slots"), boards)
        budget = optional(raw, "response_budget_ms", (int, float), 150, where)
        if not 0 < budget <= 10_000:
            raise ConfigError(f"xorboard.response_budget_ms={budget} must be > 0 and <= 10000")
        retries = optional(raw, "retries", int, 2, where)
        if not 0 <= retries <= 10:
            raise ConfigError(f"xorboard.retries={retries} must be between 0 and 10")
        mode = optional(raw, "unlock_reply", str, "state", where)
        if mode not in UNLOCK_REPLY_MODES:
            raise ConfigError(f"xorboard.unlock_reply={mode!r}: use 'state' or 'none'")
        settle = optional(raw, "settle_ms", (int, float), 500, where)
        if not 0 <= settle <= 60_000:
            raise ConfigError(f"xorboard.settle_ms={settle} must be between 0 and 60000")
        return cls(line, boards, slots, budget / 1000.0, retries, mode, settle / 1000.0)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = optional(raw, key, str, choices[0], where)
    if value not in choices:
        raise ConfigError(f"{where}.{key}={value!r}: use one of {', '.join(repr(c) for c in choices)}")
    return str(value)


def _board(raw: Any, i: int) -> XorBoard:
    where = f"xorboard.boards[{i}]"
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"address": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where} must be an object like {{"address": 1, "channels": 24}} or a bare address')
    addr = require(raw, "address", int, where)
    if not 0 <= addr <= 0xFF:
        raise ConfigError(f"{where}.address={addr} must be 0..255 (the board's DIP switch setting, usually 1..32)")
    channels = optional(raw, "channels", int, 24, where)
    if not 1 <= channels <= MAX_CHANNELS:
        raise ConfigError(f"{where}.channels={channels} must be 1..{MAX_CHANNELS} (12, 24 and 48 are common)")
    n_bytes = optional(raw, "status_bytes", int, default_status_bytes(channels), where)
    if not 1 <= n_bytes <= MAX_BITMAP_BYTES or 8 * n_bytes < channels:
        raise ConfigError(
            f"{where}.status_bytes={n_bytes} must be 1..{MAX_BITMAP_BYTES} and hold {channels} channels "
            "(count the bytes between '80 BB' and '33' in the board's read-all reply)"
        )
    state_11 = _choice(raw, "state_11", ("closed", "open"), where)
    bit_set = _choice(raw, "bitmap_bit_set", ("open", "closed"), where)
    order = _choice(raw, "bitmap_order", ("high_first", "low_first"), where)
    read = _choice(raw, "read", READ_MODES, where)
    polarity = Polarity(state_11 == "closed", bit_set == "closed", order == "high_first")
    return XorBoard(addr, channels, n_bytes, polarity, read)


def _slots(raw: Any, boards: tuple[XorBoard, ...]) -> tuple[tuple[str, int, int], ...]:
    known = {b.address: b for b in boards}
    if raw is None:  # default names: "<board>-<lock>"
        return tuple((f"{b.address}-{lock}", b.address, lock) for b in boards for lock in range(1, b.channels + 1))
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError('xorboard.slots must be an object mapping slot names to [board, lock], e.g. {"A1": [1, 1]}')
    out: list[tuple[str, int, int]] = []
    seen: dict[tuple[int, int], str] = {}
    for name, where_to in raw.items():
        where = f"xorboard.slots.{name}"
        if isinstance(where_to, Mapping):
            pair: list[Any] = [where_to.get("board"), where_to.get("lock")]
        else:
            pair = list(where_to) if isinstance(where_to, list | tuple) else []
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
            raise ConfigError(f"{where}={where_to!r} must be [board, lock] with integers, e.g. [1, 3]")
        board, lock = int(pair[0]), int(pair[1])
        spec = known.get(board)
        if spec is None:
            raise ConfigError(f"{where} names board {board}, which is not in xorboard.boards {sorted(known)}")
        if not 1 <= lock <= spec.channels:
            raise ConfigError(f"{where} names lock {lock}; board {board} has locks 1..{spec.channels} (as printed)")
        if (board, lock) in seen:
            raise ConfigError(f"{where} and xorboard.slots.{seen[board, lock]} both name board {board} lock {lock}")
        seen[board, lock] = str(name)
        out.append((str(name), board, lock))
    return tuple(out)
