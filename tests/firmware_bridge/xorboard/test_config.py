"""XorBoardConfig: defaults from the sources, and every bad value named with the fix."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.xorboard import XorBoardConfig
from firmware_bridge.xorboard.config import default_status_bytes


def test_defaults() -> None:
    config = XorBoardConfig.from_config({"port": "/dev/ttyUSB0", "boards": [1]})
    assert config.line.baud == 9600  # every source: 9600 8N1
    (board,) = config.boards
    assert (board.address, board.channels, board.status_bytes, board.read) == (1, 24, 3, "all")
    assert board.polarity.state_11_closed and not board.polarity.bit_set_closed and board.polarity.high_group_first
    assert config.slots[0] == ("1-1", 1, 1) and config.slots[-1] == ("1-24", 1, 24)
    assert config.unlock_reply == "state"


@pytest.mark.parametrize(("channels", "n_bytes"), [(8, 3), (12, 3), (24, 3), (48, 6), (50, 7)])
def test_default_status_bytes(channels: int, n_bytes: int) -> None:
    assert default_status_bytes(channels) == n_bytes


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"boards": []}, "xorboard.boards is empty"),
        ({"boards": [{"address": 256}]}, r"xorboard.boards\[0\].address=256"),
        ({"boards": [{"address": "1"}]}, r"xorboard.boards\[0\].address"),
        ({"boards": [1, 1]}, "repeats an address"),
        ({"boards": [{"address": 1, "channels": 0}]}, r"channels=0 must be 1..64"),
        ({"boards": [{"address": 1, "channels": 48, "status_bytes": 3}]}, "hold 48 channels"),
        ({"boards": [{"address": 1, "state_11": "maybe"}]}, "state_11='maybe'"),
        ({"boards": [{"address": 1, "read": True}]}, "read=True must be a string"),
        ({"slots": {"A1": [1, 0]}}, "names lock 0; board 1 has locks 1..24"),
        ({"slots": {"A1": [2, 1]}}, "names board 2, which is not in"),
        ({"slots": {"A1": [1, 1], "A2": [1, 1]}}, "both name board 1 lock 1"),
        ({"slots": {"A1": "1:1"}}, r"must be \[board, lock\]"),
        ({"slots": []}, "must be an object"),
        ({"response_budget_ms": float("nan")}, "response_budget_ms"),
        ({"response_budget_ms": 1e400}, "response_budget_ms"),
        ({"retries": 11}, "between 0 and 10"),
        ({"unlock_reply": "status"}, "use 'state' or 'none'"),
        ({"settle_ms": -1}, "settle_ms"),
        ({"port": ""}, "port is empty"),
        ({"port": "x\x00" * 50_000}, "port must be a printable device path"),
        ({"baud": 0}, "baud=0 is not a usable baud rate"),
    ],
)
def test_bad_values_are_named(change: dict[str, Any], names: str) -> None:
    raw = {"port": "/dev/ttyUSB0", "boards": [1]} | change
    with pytest.raises(ConfigError, match=names):
        XorBoardConfig.from_config(raw)


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        XorBoardConfig.from_config([])  # type: ignore[arg-type]
