"""A simulated coil-machine controller on a real pty (fast polling for tests) and a host driver on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.coil import CoilDriver
from firmware_bridge.sim.coil import CoilMachineSim


def driver_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"port": url, "vend_timeout_s": 5, "offline_after_s": 0.5, "status_timeout_s": 1} | extra


@pytest.fixture
def vmc(tmp_path: Path) -> Iterator[CoilMachineSim]:
    with CoilMachineSim(range(1, 21), link=str(tmp_path / "vmc"), poll_interval=0.05, vend_time=0.1) as sim:
        yield sim


@pytest.fixture
def coil(vmc: CoilMachineSim) -> Iterator[CoilDriver]:
    driver = CoilDriver.from_config(driver_config(vmc.url))
    yield driver
    driver.close()
