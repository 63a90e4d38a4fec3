"""A simulated KR-CU16 bus (boards 0 and 1) on a real pty, and a driver opened on it through a stable link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.sim.lockboard import LockBoardSim

SLOTS = {f"A{i + 1}": [0, i] for i in range(16)} | {f"B{i + 1}": [1, i] for i in range(16)}


def bus_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"port": url, "boards": [0, 1], "slots": SLOTS, "response_budget_ms": 40, "settle_ms": 300} | extra


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[LockBoardSim]:
    with LockBoardSim(boards=(0, 1), link=str(tmp_path / "cu16"), unlock_delay=0.03) as simulator:
        yield simulator


@pytest.fixture
def bus(sim: LockBoardSim) -> Iterator[KerongLockerBus]:
    driver = KerongLockerBus.from_config(bus_config(sim.url))
    yield driver
    driver.close()
