"""The fleet for real: central `vendtrack serve` on PostgreSQL, two edges on SQLite as processes of their own.

Configuration changes reach both edges; a limit counts takes at the other edge; a network cut while both
edges dispense loses and doubles nothing once it heals, and the central books agree with the edges'; a
revoked edge stops and says why (tests/fleet/scenario.py). Timings are measured by bench/fleet_partition.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet import scenario
from tests.fleet.harness import FleetRig

PG = os.environ.get("VENDTRACK_TEST_DATABASE_URL", "")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FleetRig]:
    if not PG:
        pytest.skip("the fleet's central server runs on PostgreSQL: set VENDTRACK_TEST_DATABASE_URL")
    fleet = FleetRig(tmp_path, PG)
    try:
        yield fleet
    finally:
        fleet.close()


@pytest.mark.timeout(900)  # three servers on a loaded two-core CI machine; a passing run takes a minute or two
def test_partition_heals_with_nothing_lost_or_doubled(rig: FleetRig) -> None:
    figures, problems, why = scenario.run(rig, per_edge=20)
    assert figures.sent == 2 * (20 + 3) + 3 + 1  # cut: 3 gloves + 20 ear plugs per edge; online: 3 at A, 1 at B
    assert (figures.received, figures.duplicates, figures.lost) == (figures.sent, 0, 0)
    assert all(n > 0 for n in figures.backlog_during_cut.values()), figures.backlog_during_cut
    assert problems == []
    assert "replaced by new hardware" in why
    assert figures.overruns == ["W3: Gloves per day used 6 (PA: 3, PB: 3)"]  # one report, whichever edge was first
