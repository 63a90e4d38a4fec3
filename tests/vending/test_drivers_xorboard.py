"""A locker machine wired to 0x8A/0x80 XOR lock boards through vending/drivers.py, against the simulator on a pty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import DomainError
from firmware_bridge.sim.xorboard import XorBoardSim
from vending import drivers


def _config(url: str, **device: object) -> dict[str, object]:
    base = {"port": url, "boards": [{"address": 1, "channels": 12, "status_bytes": 2}], "slots": {"A1": [1, 1]}}
    return {"driver": "xorboard", "device": base | device, "open_window_s": 1, "close_window_s": 2,
            "poll_interval_s": 0.01}  # fmt: skip


def test_validate_accepts_the_board_and_names_bad_fields() -> None:
    assert drivers.validate("locker_bank", json.dumps(_config("/dev/ttyUSB0")))["driver"] == "xorboard"
    with pytest.raises(DomainError, match=r"xorboard.slots.A1 names lock 13; board 1 has locks 1..12"):
        drivers.validate("locker_bank", json.dumps(_config("/dev/ttyUSB0", slots={"A1": [1, 13]})))
    with pytest.raises(DomainError, match="bitmap_order"):
        bad = {"address": 1, "bitmap_order": "sideways"}
        drivers.validate("supply_cabinet", json.dumps(_config("/dev/ttyUSB0", boards=[bad])))
    with pytest.raises(DomainError, match="'kerong', 'xorboard' or 'relay'"):
        drivers.validate("locker_bank", json.dumps({"driver": "xor", "device": {}}))


def test_a_locker_bank_on_xor_boards_dispenses_on_a_sensed_opening(tmp_path: Path) -> None:
    with XorBoardSim(boards=(1,), channels=12, status_bytes=2, link=str(tmp_path / "lc"), close_after=0.1) as sim:
        adapter = drivers.build("locker_bank", _config(sim.url))
        try:
            baseline = adapter.baseline("A1")
            assert baseline["door"] == "closed"
            sensed = adapter.execute("A1", 1, None, baseline, lambda step: None)
            assert sensed.taken == 1 and sensed.fault == "", sensed
            assert sim.unlock_count(1, 1) == 1
        finally:
            adapter.close()


def test_hostile_configs_are_refused_with_the_field_named() -> None:
    with pytest.raises(DomainError, match="nested too deeply"):
        drivers.validate("locker_bank", '{"driver": "xorboard", "device": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(DomainError, match=r"xorboard.port must be a printable device path"):
        drivers.validate("locker_bank", json.dumps(_config("x\x00" * 50_000)))
    with pytest.raises(DomainError, match=r"response_budget_ms=nan"):
        drivers.validate("locker_bank", json.dumps(_config("/dev/ttyUSB0", response_budget_ms=float("nan"))))
