"""Relay latch guard: software-timed pulses with a guaranteed off, against pymodbus' own plain server.

A plain datastore (like boards without the Waveshare "flash" function) stores the write to coil
0x0200 + channel as an ordinary coil: the relay itself is never pulsed, or stays latched on. With
`pulse: "software"` the locker switches the relay on and its watchdog switches it off, even when the
off-write first fails; a process killed mid-pulse leaves the relay on until the next `start()`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.protocols import UnlockResult
from tests.firmware_bridge.modbus.support import PymodbusServerThread, free_port, relay_board_device
from tests.support import wait_until

FC_COILS = 1


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    wait_until(condition, timeout=seconds, what=what, every=0.02)


def _config(url: str, pulse_ms: int, **extra: Any) -> dict[str, Any]:
    return {
        "bus": {"url": url, "timeout": 0.3, "retries": 0, "reconnect_min": 0.05, "reconnect_max": 0.3},
        "pulse_ms": pulse_ms,
        "boards": {"2": {"pulse": "software"}},  # device 1 keeps the board-timed flash
        "slots": {"A1": {"device_id": 1, "relay": 0}, "B3": {"device_id": 2, "relay": 3}},
    } | extra


@pytest.fixture
def server() -> Iterator[tuple[PymodbusServerThread, str]]:
    port = free_port()
    srv = PymodbusServerThread([relay_board_device(1), relay_board_device(2)], tcp_port=port)
    srv.start()
    yield srv, f"tcp://127.0.0.1:{port}"
    srv.stop()


def _coil(srv: PymodbusServerThread, device_id: int, address: int) -> bool:
    return bool(srv.get_values(device_id, FC_COILS, address, 1)[0])


def test_software_pulse_switches_the_relay_on_then_off(server: tuple[PymodbusServerThread, str]) -> None:
    srv, url = server
    locker = RelayBoardLocker.from_config(_config(url, 1500))
    try:
        assert locker.start() == {}
        reply = locker.unlock("B3")
        assert reply.result is UnlockResult.ACKNOWLEDGED and "software-timed" in reply.detail
        assert _coil(srv, 2, 3) or locker.watchdog.offs_written == 1  # on, unless the machine stalled 1.5 s
        _wait_for(lambda: locker.watchdog.offs_written == 1, "the watchdog's off-write")
        assert not _coil(srv, 2, 3)
        assert not _coil(srv, 2, 0x0203)  # the flash coil was never written for this board
        assert locker.unlock("A1").result is UnlockResult.ACKNOWLEDGED  # device 1: board-timed flash as before
        assert _coil(srv, 1, 0x0200) and not _coil(srv, 1, 0)
    finally:
        locker.close()


def test_close_switches_a_pending_pulse_off(server: tuple[PymodbusServerThread, str]) -> None:
    srv, url = server
    locker = RelayBoardLocker.from_config(_config(url, 60_000))
    locker.unlock("B3")
    assert _coil(srv, 2, 3)
    locker.close()
    assert not _coil(srv, 2, 3)


def test_a_failed_off_write_is_retried_until_the_board_takes_it() -> None:
    port = free_port()
    first = PymodbusServerThread([relay_board_device(1), relay_board_device(2)], tcp_port=port)
    first.start()
    locker = RelayBoardLocker.from_config(_config(f"tcp://127.0.0.1:{port}", 2000))
    second: PymodbusServerThread | None = None
    try:
        locker.unlock("B3")
        first.stop()  # the bus drops before the off is due
        _wait_for(lambda: locker.watchdog.off_failures >= 1, "a failed off-write")
        second = PymodbusServerThread([relay_board_device(1), relay_board_device(2)], tcp_port=port)
        second.start()
        second.set_values(2, FC_COILS, 3, [True])  # the relay is still latched on when the board comes back
        _wait_for(lambda: locker.watchdog.offs_written == 1, "the retried off-write")
        assert not _coil(second, 2, 3)
    finally:
        locker.close()
        if second is not None:
            second.stop()


def test_a_process_killed_mid_pulse_leaves_the_relay_on_until_the_next_start(
    server: tuple[PymodbusServerThread, str],
) -> None:
    srv, url = server
    code = (
        "import json, sys, time\n"
        "from firmware_bridge.modbus.relay_locker import RelayBoardLocker\n"
        "locker = RelayBoardLocker.from_config(json.loads(sys.argv[1]))\n"
        "locker.start(); locker.unlock('B3'); print('on', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(_config(url, 60_000))], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"on"
        assert _coil(srv, 2, 3)
        os.kill(proc.pid, signal.SIGKILL)  # no watchdog, no close: the relay stays energised
        proc.wait(5)
        assert _coil(srv, 2, 3)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    locker = RelayBoardLocker.from_config(_config(url, 500))
    try:
        assert locker.start() == {}
        assert not _coil(srv, 2, 3)  # every relay driven off before anything else
    finally:
        locker.close()


def test_a_fresh_locker_drives_relays_off_before_its_first_read(server: tuple[PymodbusServerThread, str]) -> None:
    srv, url = server
    srv.set_values(2, FC_COILS, 0, [True] * 8)
    config = RelayLockerConfig.from_config(_config(url, 500))
    locker = RelayBoardLocker(config, ModbusBus(config.bus))
    try:
        locker.door_states()  # no start(): the first contact with the board is its all-off
        assert srv.get_values(2, FC_COILS, 0, 8) == [False] * 8
    finally:
        locker.close()


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"pulse": "timer"}, "pulse: 'timer' must be 'board'"),
        ({"boards": {"x": {"pulse": "software"}}}, "boards.x: the key must be a device id"),
        ({"boards": {"9": {"pulse": "software"}}}, "boards.9: no slot uses device 9"),
        ({"boards": {"2": {"pulse": "never"}}}, "boards.2.pulse"),
        ({"boards": {"2": {"pulse_ms": 5}}}, "boards.2.pulse_ms: unknown setting"),
        ({"boards": ["2"]}, "boards: expected an object"),
        ({"pulse_ms": 250, "boards": {}}, "not a multiple of 100"),
    ],
)
def test_pulse_mode_config_names_bad_fields(change: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        RelayLockerConfig.from_config(_config("tcp://127.0.0.1:1502", 500) | change)


def test_software_pulses_need_no_100_ms_steps() -> None:
    config = RelayLockerConfig.from_config(_config("tcp://127.0.0.1:1502", 250, pulse="software", boards={}))
    assert config.software_pulse == frozenset({1, 2}) and config.pulse_ms == 250
