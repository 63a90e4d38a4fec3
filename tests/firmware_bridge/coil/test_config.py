"""CoilConfig.from_config: defaults of the protocol, and bad fields named."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_bridge.coil import CoilConfig
from firmware_bridge.errors import ConfigError


def test_defaults_follow_the_protocol() -> None:
    config = CoilConfig.from_config({"port": "/dev/ttyS1"})
    assert (config.line.baud, config.line.parity, config.line.stop_bits) == (57600, "N", 1)
    assert config.line.turnaround == 0  # RS-232: nothing to turn around
    assert (config.max_resends, config.vend_timeout, config.offline_after) == (5, 30.0, 1.0)
    assert config.drop_sensor and not config.elevator


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_resends": 6}, "coil.max_resends"),
        ({"vend_timeout_s": 0}, "coil.vend_timeout_s"),
        ({"offline_after_s": "soon"}, "coil.offline_after_s"),
        ({"drop_sensor": "yes"}, "coil.drop_sensor"),
        ({"baud": 0}, "coil.baud"),
        ({"port": None}, "coil.port"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CoilConfig.from_config({"port": "/dev/ttyS1"} | change)
