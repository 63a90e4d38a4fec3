"""Configuration of a Kerong KR-CU16 bus: line settings, boards with their bit polarity, slot names → (board, lock).

Stored by vending as JSON in a machine row, e.g.::

    {"port": "/dev/ttyUSB0", "baud": 19200,
     "boards": [{"address": 0, "hook_bit_set": "closed", "sensor_bit_set": "present"}],
     "slots": {"A1": [0, 0], "A2": [0, 1]},
     "response_budget_ms": 100, "retries": 2, "unlock_reply": "status", "settle_ms": 500}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.errors import ConfigError
from firmware_bridge.kerong.codec import LOCKS_PER_BOARD, MAX_BOARD, Polarity
from firmware_bridge.transport.line import LineSettings, optional, require

UNLOCK_REPLY_MODES = ("status", "none")


@dataclass(frozen=True, slots=True)
class KerongBoard:
    address: int
    polarity: Polarity = field(default_factory=Polarity)
    item_sensors: bool = True


@dataclass(frozen=True, slots=True)
class KerongConfig:
    line: LineSettings
    boards: tuple[KerongBoard, ...]
    slots: tuple[tuple[str, int, int], ...]  # (slot name, board address, lock 0..15)
    response_budget: float = 0.1  # seconds the board may take before it starts answering
    retries: int = 2  # extra attempts for a status read, and for an unlock whose reply was lost
    unlock_reply: str = "status"  # "status": the board answers an unlock with a status frame; "none": it is silent
    settle: float = 0.5  # seconds to watch the door after a lost unlock reply before any retry
    settle_poll: float = 0.05

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> KerongConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError("kerong config must be a JSON object with port, boards and slots")
        line = LineSettings.from_config(raw, default_baud=19200, where="kerong")
        boards_raw = require(raw, "boards", list, "kerong")
        if not boards_raw:
            raise ConfigError('kerong.boards is empty: list at least one board, e.g. [{"address": 0}]')
        boards = tuple(_board(b, i) for i, b in enumerate(boards_raw))
        addresses = [b.address for b in boards]
        if len(set(addresses)) != len(addresses):
            raise ConfigError(
                f"kerong.boards has a repeated address: {addresses}; each board needs its own DIP setting"
            )
        slots = _slots(raw.get("slots"), boards)
        budget = optional(raw, "response_budget_ms", (int, float), 100, "kerong")
        if budget <= 0:
            raise ConfigError(f"kerong.response_budget_ms={budget} must be > 0 (the board needs time to answer)")
        retries = optional(raw, "retries", int, 2, "kerong")
        if not 0 <= retries <= 10:
            raise ConfigError(f"kerong.retries={retries} must be between 0 and 10")
        mode = optional(raw, "unlock_reply", str, "status", "kerong")
        if mode not in UNLOCK_REPLY_MODES:
            raise ConfigError(f"kerong.unlock_reply={mode!r}: use 'status' or 'none'")
        settle = optional(raw, "settle_ms", (int, float), 500, "kerong")
        if settle < 0:
            raise ConfigError(f"kerong.settle_ms={settle} must be >= 0")
        return cls(line, boards, slots, budget / 1000.0, retries, mode, settle / 1000.0)


def _board(raw: Any, i: int) -> KerongBoard:
    where = f"kerong.boards[{i}]"
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"address": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where} must be an object like {{"address": 0}} or a bare address')
    addr = require(raw, "address", int, where)
    if not 0 <= addr <= MAX_BOARD:
        raise ConfigError(f"{where}.address={addr} must be 0..{MAX_BOARD} (the board's DIP switch setting)")
    hook = optional(raw, "hook_bit_set", str, "closed", where)
    if hook not in ("closed", "open"):
        raise ConfigError(f"{where}.hook_bit_set={hook!r}: use 'closed' or 'open' (what a set lock bit means)")
    sensor = optional(raw, "sensor_bit_set", str, "present", where)
    if sensor not in ("present", "empty"):
        raise ConfigError(f"{where}.sensor_bit_set={sensor!r}: use 'present' or 'empty' (what a set IR bit means)")
    sensors = optional(raw, "item_sensors", bool, True, where)
    return KerongBoard(addr, Polarity(hook == "closed", sensor == "present"), sensors)


def _slots(raw: Any, boards: tuple[KerongBoard, ...]) -> tuple[tuple[str, int, int], ...]:
    known = {b.address for b in boards}
    if raw is None:  # default names: "<board>-<lock 1..16>"
        return tuple((f"{b.address}-{lock + 1}", b.address, lock) for b in boards for lock in range(LOCKS_PER_BOARD))
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError('kerong.slots must be an object mapping slot names to [board, lock], e.g. {"A1": [0, 0]}')
    out: list[tuple[str, int, int]] = []
    seen: dict[tuple[int, int], str] = {}
    for name, where_to in raw.items():
        where = f"kerong.slots.{name}"
        if isinstance(where_to, Mapping):
            pair: list[Any] = [where_to.get("board"), where_to.get("lock")]
        else:
            pair = list(where_to) if isinstance(where_to, list | tuple) else []
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
            raise ConfigError(f"{where}={where_to!r} must be [board, lock] with integers, e.g. [0, 3]")
        board, lock = int(pair[0]), int(pair[1])
        if board not in known:
            raise ConfigError(f"{where} names board {board}, which is not in kerong.boards {sorted(known)}")
        if not 0 <= lock < LOCKS_PER_BOARD:
            raise ConfigError(f"{where} names lock {lock}; locks are 0..15 (lock 1 on the board is 0)")
        if (board, lock) in seen:
            raise ConfigError(f"{where} and kerong.slots.{seen[board, lock]} both name board {board} lock {lock}")
        seen[board, lock] = str(name)
        out.append((str(name), board, lock))
    return tuple(out)
