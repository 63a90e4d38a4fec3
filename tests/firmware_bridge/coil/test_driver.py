"""CoilDriver against the VMC simulator over a real pty: outcomes, resends, duplicates, faults, recovery.

`vmc.runs(selection)` counts motor runs, so "no double vend" is checked on the device side.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.coil import CoilDriver
from firmware_bridge.protocols import CoilController, SelectionHealth, VendStatus
from firmware_bridge.sim import Faults
from firmware_bridge.sim.coil import CoilMachineSim
from tests.firmware_bridge.coil.conftest import driver_config
from tests.support import wait_until


def test_it_is_a_coil_controller(coil: CoilDriver) -> None:
    assert isinstance(coil, CoilController)


def test_a_vend_succeeds_once(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    outcome = coil.vend(4)
    assert outcome.status is VendStatus.SUCCESS and outcome.vended
    assert vmc.runs(4) == 1


@pytest.mark.parametrize(
    ("scripted", "status", "runs"),
    [
        ("jam", VendStatus.JAMMED, 1),
        ("motor_did_not_stop", VendStatus.MOTOR_DID_NOT_STOP, 1),
        ("no_motor", VendStatus.NO_MOTOR, 0),
        ("terminated", VendStatus.TERMINATED, 1),
    ],
)
def test_every_failure_status_is_reported(
    coil: CoilDriver, vmc: CoilMachineSim, scripted: str, status: VendStatus, runs: int
) -> None:
    vmc.set_outcome(7, scripted)
    outcome = coil.vend(7)
    assert outcome.status is status and not outcome.vended
    assert vmc.runs(7) == runs


def test_every_poll_is_answered(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    coil.vend(1)  # polls sent before the driver opened the port go unanswered; count from here
    first = vmc.polls_sent
    wait_until(lambda: vmc.polls_sent > first + 1, what="a poll sent after the vend")  # poll first+1 judged
    polls, unanswered = vmc.polls_sent, vmc.polls_unanswered
    # a poll is judged before the next one is sent: once poll N+5 is out, polls N+1..N+4 were answered or not
    wait_until(lambda: vmc.polls_sent > polls + 4, what="four more polls")
    assert vmc.polls_unanswered == unanswered
    assert coil.online


def test_a_lost_controller_ack_makes_a_resend_that_never_vends_twice(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    vmc.start_delay = 1.0  # the motor reports late (many polls later), so the host only learns from the missing ACK
    vmc.lose_next_acks = 2
    assert coil.vend(9).status is VendStatus.SUCCESS
    assert coil.resends >= 2 and vmc.duplicate_commands >= 2
    assert vmc.runs(9) == 1


def test_a_lost_host_ack_makes_a_duplicate_report_that_is_ignored(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    vmc.ignore_host_acks = 3
    assert coil.vend(10).status is VendStatus.SUCCESS
    assert vmc.data_resends >= 3 and coil.duplicates_ignored >= 3
    assert coil.vend(11).status is VendStatus.SUCCESS  # the next vend is not confused by the duplicates
    assert (vmc.runs(10), vmc.runs(11)) == (1, 1)


def test_a_controller_whose_frames_never_arrive_is_offline(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    vmc.faults.drop = 1.0  # it still polls, but nothing it sends arrives
    wait_until(lambda: not coil.online, what="the driver to notice the polls stopped")
    outcome = coil.vend(12)
    assert outcome.status is VendStatus.OFFLINE and not outcome.vended
    assert vmc.runs(12) == 0


@pytest.mark.parametrize(
    "faults",
    [
        Faults(noise=0.3, seed=1),
        Faults(corrupt=0.2, seed=2),
        Faults(truncate=0.2, seed=3),
        Faults(drop=0.2, seed=4),
        Faults(delay=0.2, delay_s=0.15, seed=5),
    ],
    ids=["noise", "corrupt", "truncate", "drop", "delay"],
)
def test_line_faults_still_give_one_vend_and_the_right_outcome(tmp_path: Path, faults: Faults) -> None:
    with CoilMachineSim(
        range(1, 5), link=str(tmp_path / "vmc"), poll_interval=0.05, vend_time=0.1, faults=faults
    ) as vmc:
        vmc.set_outcome(3, "jam")
        coil = CoilDriver.from_config(driver_config(vmc.url))
        try:
            for selection, expected in ((1, VendStatus.SUCCESS), (3, VendStatus.JAMMED), (2, VendStatus.SUCCESS)):
                assert coil.vend(selection).status is expected
                assert vmc.runs(selection) == 1
        finally:
            coil.close()
        assert sum(faults.counts.values()) > 0


def test_selection_status(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    vmc.set_outcome(5, "no_motor")
    assert coil.selection_status(2) is SelectionHealth.OK
    assert coil.selection_status(5) is SelectionHealth.NO_MOTOR
    assert coil.selection_status(99) is SelectionHealth.NO_MOTOR


def test_controller_vanishes_and_returns_without_restart(coil: CoilDriver, vmc: CoilMachineSim) -> None:
    assert coil.vend(1).status is VendStatus.SUCCESS
    vmc.vanish()
    wait_until(lambda: not coil.online, what="the driver to notice the controller is gone")
    outcome = coil.vend(2)
    assert outcome.status is VendStatus.OFFLINE and "no POLL" in outcome.detail
    assert coil.selection_status(2) is SelectionHealth.UNKNOWN
    assert vmc.runs(2) == 0
    vmc.restore()
    wait_until(lambda: coil.online, what="the driver to reopen the port")
    assert coil.vend(2).status is VendStatus.SUCCESS
    assert vmc.runs(2) == 1 and coil.transport.reopens >= 1


def test_over_tcp() -> None:
    with CoilMachineSim(range(1, 3), tcp=("127.0.0.1", 0), poll_interval=0.05, vend_time=0.05) as vmc:
        coil = CoilDriver.from_config(driver_config(vmc.url))
        try:
            assert coil.vend(1).status is VendStatus.SUCCESS and vmc.runs(1) == 1
        finally:
            coil.close()


def test_no_controller_at_all_is_offline(tmp_path: Path) -> None:
    coil = CoilDriver.from_config(driver_config(str(tmp_path / "nothing-here")))
    try:
        assert coil.vend(1).status is VendStatus.OFFLINE
    finally:
        coil.close()
