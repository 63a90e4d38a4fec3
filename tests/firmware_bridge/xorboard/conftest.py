"""A simulated bus of two 24-channel XOR lock boards (addresses 1 and 2) on a real pty, and a driver on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.sim.xorboard import XorBoardSim
from firmware_bridge.xorboard import XorBoardLockerBus

SLOTS = {f"A{i}": [1, i] for i in range(1, 25)} | {f"B{i}": [2, i] for i in range(1, 25)}


def bus_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"port": url, "boards": [1, 2], "slots": SLOTS, "response_budget_ms": 40, "settle_ms": 300} | extra


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[XorBoardSim]:
    with XorBoardSim(boards=(1, 2), link=str(tmp_path / "lockctl"), unlock_delay=0.03) as simulator:
        yield simulator


@pytest.fixture
def bus(sim: XorBoardSim) -> Iterator[XorBoardLockerBus]:
    driver = XorBoardLockerBus.from_config(bus_config(sim.url))
    yield driver
    driver.close()
