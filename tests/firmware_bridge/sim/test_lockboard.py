"""The KR-CU16 simulator speaks the real frames: checked with bare pyserial, and its CLI prints the URL first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import serial
from click.testing import CliRunner

from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.kerong.codec import (
    REPLY_STATUS_ALL,
    KerongScanner,
    decode_reply,
    encode_status,
    encode_status_all,
    encode_unlock,
)
from firmware_bridge.protocols import DoorOutcome
from firmware_bridge.sim.lockboard import LockBoardSim
from firmware_bridge.sim.lockboard_cli import command
from tests.support import read_until, wait_until


def _exchange(url: str, request: bytes, wait: float = 2.0, replies: int = 1) -> list[bytes]:
    """The frames answering `request`: returns once `replies` frames came, or after `wait` s of silence."""
    port = serial.serial_for_url(url, baudrate=19200, timeout=0.02)
    try:
        port.write(request)
        raw = read_until(port, lambda got: len(KerongScanner().feed(got)) >= replies, wait)
        return KerongScanner().feed(raw)
    finally:
        port.close()


def test_broadcast_status_gets_one_reply_per_board() -> None:
    with LockBoardSim(boards=(0, 1, 2)) as sim:
        sim.open_door(2, 0)
        replies = [decode_reply(f) for f in _exchange(sim.url, encode_status_all(), replies=3)]
    assert [(r.board, r.command) for r in replies] == [(b, REPLY_STATUS_ALL) for b in (0, 1, 2)]
    assert replies[2].hooks == 0xFFFE  # lock 0 of board 2 open: its hook bit is clear


def test_an_absent_board_stays_silent_and_unlock_answers_with_status() -> None:
    with LockBoardSim(boards=(0,), model_wire_time=False) as sim:
        assert _exchange(sim.url, encode_status(3), wait=0.1) == []
        (reply,) = _exchange(sim.url, encode_unlock(0, 4))
        assert decode_reply(reply).board == 0 and sim.unlock_count(0, 4) == 1


def test_faults_shape_replies_deterministically() -> None:
    with LockBoardSim(boards=(0,), model_wire_time=False) as sim:
        sim.faults.corrupt_next = 1
        assert _exchange(sim.url, encode_status(0), wait=0.1) == []
        sim.faults.truncate_next = 1
        assert _exchange(sim.url, encode_status(0), wait=0.1) == []
        assert len(_exchange(sim.url, encode_status(0))) == 1
        assert sim.faults.counts == {"corrupt": 1, "truncate": 1}


def test_vanish_keeps_the_link_path_for_the_return(tmp_path: Path) -> None:
    link = tmp_path / "ttyCU16"
    with LockBoardSim(boards=(0,), link=str(link)) as sim:
        assert sim.url == str(link) and link.exists()
        sim.vanish(for_seconds=0.1)
        assert not link.exists()
        wait_until(link.exists, what="the simulator to come back under the same path")
        assert len(_exchange(sim.url, encode_status(0))) == 1


def test_the_scripted_person_takes_the_item_and_closes_the_door(tmp_path: Path) -> None:
    with LockBoardSim(boards=(0,), link=str(tmp_path / "p"), close_after=0.2, take_item=True) as sim:
        bus = KerongLockerBus.from_config({"port": sim.url, "boards": [0]})
        watcher = bus.watcher(poll_interval=0.01)
        assert watcher.unlock_and_wait_open("0-3", 0.5)[1].outcome is DoorOutcome.OPENED
        assert watcher.wait_closed("0-3", 1.0).outcome is DoorOutcome.CLOSED
        assert bus.door_states()["0-3"].item_present is False
        bus.close()


def test_cli_prints_the_pty_path_first() -> None:
    result = CliRunner().invoke(command, ["--duration", "0.2", "--boards", "0,1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("/dev/")


def test_cli_prints_the_socket_url_first_with_tcp() -> None:
    result = CliRunner().invoke(command, ["--duration", "0.2", "--tcp", "127.0.0.1:0", "--noise", "0.1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("socket://127.0.0.1:")


def test_cli_rejects_bad_options_with_advice() -> None:
    result = CliRunner().invoke(command, ["--tcp", "nowhere"])
    assert result.exit_code != 0 and "HOST:PORT" in result.output
    result = CliRunner().invoke(command, ["--drop", "2"])
    assert result.exit_code != 0 and "probability" in result.output


def test_cli_in_its_own_process_serves_a_driver(tmp_path: Path) -> None:
    link = tmp_path / "cu16"
    code = "from firmware_bridge.sim.lockboard_cli import command; command()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--link", str(link), "--stuck", "0:2", "--duration", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        bus = KerongLockerBus.from_config({"port": str(link), "boards": [0]})
        watcher = bus.watcher(poll_interval=0.01)
        assert watcher.unlock_and_wait_open("0-1", 0.5)[1].outcome is DoorOutcome.OPENED
        assert watcher.unlock_and_wait_open("0-3", 0.3)[1].outcome is DoorOutcome.NOT_OPENED
        bus.close()
    finally:
        proc.terminate()
        proc.wait(5)
