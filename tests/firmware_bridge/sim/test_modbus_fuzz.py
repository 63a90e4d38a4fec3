"""Seeded fuzzing of the simulators' slave side: any PDU gets a reply or an exception, garbage never stops RTU.

Hypothesis prints the falsifying PDU or byte string on failure; paste it into the test body to reproduce.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from firmware_bridge.modbus.rtu import crc_ok, with_crc
from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.sim.relayboard import RelayBoardDevice, RelayBoardSimulator
from firmware_bridge.sim.scale import ScaleDevice

DEVICES = [RelayBoardDevice(), ScaleDevice(PRESETS["dini_argeo_dgt4x"]), ScaleDevice(PRESETS["pt_global_pt113"])]


@seed(20261122)
@settings(max_examples=400, deadline=None)
@given(device=st.sampled_from(DEVICES), function=st.integers(0, 0x2B), data=st.binary(max_size=20))
def test_any_request_pdu_gets_a_well_formed_answer(
    device: RelayBoardDevice | ScaleDevice, function: int, data: bytes
) -> None:
    reply = device.handle(bytes((function,)) + data)
    assert reply[0] in (function, function | 0x80)
    if reply[0] & 0x80:
        assert len(reply) == 2 and reply[1] in (1, 2, 3)


def read_reply(fd: int, timeout: float = 1.0) -> bytes:
    """A whole RTU reply (CRC right), or what arrived within `timeout` s (silence: b"")."""
    deadline = time.monotonic() + timeout
    out = b""
    while not (len(out) >= 6 and crc_ok(out)) and (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            out += os.read(fd, 256)
    return out


@pytest.fixture(scope="module")
def rtu_port() -> Iterator[int]:
    sim = RelayBoardSimulator(device_ids=(1,), model_wire_time=False)
    fd = os.open(sim.start_rtu(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    yield fd
    os.close(fd)
    sim.stop()


@seed(20261122)
@settings(max_examples=30, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=40))
def test_rtu_garbage_is_dropped_and_the_next_frame_answered(rtu_port: int, garbage: bytes) -> None:
    os.write(rtu_port, garbage)
    time.sleep(0.01)  # the silence (> t3.5 = 3.6 ms at 9600) a real slave resynchronises on
    read_reply(rtu_port, 0.02)  # garbage that happens to be a valid request may be answered; discard it
    request = with_crc(bytes.fromhex("01 02 00 00 00 08"))
    os.write(rtu_port, request)
    reply = read_reply(rtu_port)
    if not reply:  # a stalled machine can merge garbage and frame into one read; a master repeats, so do we
        os.write(rtu_port, request)
        reply = read_reply(rtu_port)
    assert reply == with_crc(bytes.fromhex("01 02 01 00"))
