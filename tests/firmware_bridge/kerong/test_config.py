"""KerongConfig.from_config: a good machine row, and every bad field named in the error."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.kerong import KerongConfig, KerongLockerBus
from firmware_bridge.kerong.codec import Polarity


def test_full_config() -> None:
    config = KerongConfig.from_config(
        {
            "port": "socket://192.168.1.40:4001",
            "boards": [{"address": 0}, {"address": 1, "hook_bit_set": "open", "sensor_bit_set": "empty"}],
            "slots": {"A1": [0, 0], "B16": {"board": 1, "lock": 15}},
            "response_budget_ms": 80,
            "retries": 1,
            "unlock_reply": "none",
            "settle_ms": 250,
        }
    )
    assert config.line.baud == 19200
    assert config.boards[1].polarity == Polarity(hook_set_closed=False, sensor_set_present=False)
    assert config.slots == (("A1", 0, 0), ("B16", 1, 15))
    assert (config.response_budget, config.retries, config.unlock_reply, config.settle) == (0.08, 1, "none", 0.25)


def test_default_slot_names_cover_every_lock() -> None:
    bus = KerongLockerBus.from_config({"port": "loop://", "boards": [0, 2]})
    assert len(bus.slots()) == 32 and bus.slots()[0] == "0-1" and bus.slots()[-1] == "2-16"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"boards": []}, "kerong.boards"),
        ({"boards": [{"address": 15}]}, r"kerong.boards\[0\].address"),
        ({"boards": [0, 0]}, "repeated address"),
        ({"boards": [{"address": 0, "hook_bit_set": "up"}]}, "hook_bit_set"),
        ({"boards": [{"address": 0, "sensor_bit_set": 1}]}, "sensor_bit_set"),
        ({"slots": {"A1": [3, 0]}}, "kerong.slots.A1 names board 3"),
        ({"slots": {"A1": [0, 16]}}, "kerong.slots.A1 names lock 16"),
        ({"slots": {"A1": [0, 1], "A2": [0, 1]}}, "both name board 0 lock 1"),
        ({"slots": {"A1": "0:1"}}, r"kerong.slots.A1="),
        ({"slots": []}, "kerong.slots"),
        ({"response_budget_ms": 0}, "response_budget_ms"),
        ({"retries": 50}, "kerong.retries"),
        ({"unlock_reply": "maybe"}, "unlock_reply"),
        ({"settle_ms": -1}, "settle_ms"),
        ({"port": 7}, "kerong.port"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    raw: dict[str, Any] = {"port": "/dev/ttyUSB0", "boards": [0], "slots": {"A1": [0, 0]}} | change
    with pytest.raises(ConfigError, match=field):
        KerongConfig.from_config(raw)
