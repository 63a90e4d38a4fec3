"""KR-CU16 frames: literal bytes from the vendor examples, status decoding with polarity, and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import FrameError
from firmware_bridge.kerong.codec import (
    CMD_STATUS,
    CMD_UNLOCK,
    REPLY_STATUS,
    REPLY_STATUS_ALL,
    KerongRequest,
    KerongScanner,
    Polarity,
    checksum,
    decode_reply,
    decode_request,
    encode_status,
    encode_status_all,
    encode_status_reply,
    encode_unlock,
    encode_unlock_all,
)
from firmware_bridge.protocols import DoorState

FUZZ = settings(
    derandomize=True, max_examples=400, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (encode_unlock(0, 0), "02 00 31 03 36"),  # PRODUCT.md and integrator sources
        (encode_unlock(1, 0), "02 10 31 03 46"),
        (encode_unlock(0, 15), "02 0f 31 03 45"),
        (encode_unlock(1, 2), "02 12 31 03 48"),
        (encode_status(0), "02 00 30 03 35"),
        (encode_status(1), "02 10 30 03 45"),
        (encode_status_all(), "02 f0 32 03 27"),  # whole bus
        (encode_status_all(2), "02 20 32 03 57"),
        (encode_unlock_all(0), "02 00 33 03 38"),
        (encode_unlock_all(3), "02 30 33 03 68"),
    ],
)
def test_request_frames_match_the_documents(frame: bytes, expected: str) -> None:
    assert frame.hex(" ") == expected


def test_status_all_replies_match_the_documented_examples() -> None:
    assert encode_status_reply(0, 0, 0, REPLY_STATUS_ALL).hex(" ") == "02 00 36 00 00 00 00 03 3b"
    assert encode_status_reply(1, 0, 0, REPLY_STATUS_ALL).hex(" ") == "02 10 36 00 00 00 00 03 4b"


def test_status_reply_decodes_hooks_and_sensors_per_lock() -> None:
    frame = bytes.fromhex("02 00 35 fe ff 01 80 03")
    frame += bytes((checksum(frame),))
    status = decode_reply(frame)
    assert (status.board, status.command, status.hooks, status.sensors) == (0, REPLY_STATUS, 0xFFFE, 0x8001)
    default = Polarity()
    assert status.door(0, default) is DoorState.OPEN  # bit clear = hook released
    assert status.door(1, default) is DoorState.CLOSED
    assert status.item_present(0, default) and status.item_present(15, default)
    assert not status.item_present(1, default)
    inverted = Polarity(hook_set_closed=False, sensor_set_present=False)
    assert status.door(0, inverted) is DoorState.CLOSED
    assert not status.item_present(0, inverted)


def test_requests_decode() -> None:
    assert decode_request(encode_unlock(2, 7)) == KerongRequest(2, 7, CMD_UNLOCK)
    assert decode_request(encode_status(4)) == KerongRequest(4, 0, CMD_STATUS)
    assert decode_request(encode_status_all()).broadcast


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("02 00 31 03 37", "checksum"),
        ("02 00 31 04 37", "03 before the checksum"),
        ("02 00 39 03 3e", "unknown command"),
        ("02 00 31 03", "5 bytes"),
    ],
)
def test_bad_requests_say_what_is_wrong(frame: str, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode_request(bytes.fromhex(frame))


def test_addresses_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="board 15"):
        encode_unlock(15, 0)
    with pytest.raises(ValueError, match="lock 16"):
        encode_unlock(0, 16)


@FUZZ
@given(st.binary(max_size=40))
def test_decoders_raise_only_frame_error(data: bytes) -> None:
    for decoder in (decode_reply, decode_request):
        with contextlib.suppress(FrameError):
            decoder(data)


@FUZZ
@given(st.binary(max_size=200))
def test_scanner_never_raises_and_only_yields_valid_frames(data: bytes) -> None:
    for frame in KerongScanner().feed(data):
        assert frame[0] == 0x02 and frame[-2] == 0x03 and checksum(frame[:-1]) == frame[-1]


@FUZZ
@given(st.integers(0, 14), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(1, 255))
def test_no_frame_with_a_bad_checksum_is_accepted(board: int, hooks: int, sensors: int, delta: int) -> None:
    good = encode_status_reply(board, hooks, sensors)
    bad = good[:-1] + bytes(((good[-1] + delta) & 0xFF,))
    with pytest.raises(FrameError):
        decode_reply(bad)
    assert KerongScanner().feed(bad) == []
    assert decode_reply(good).hooks == hooks


@FUZZ
@given(st.binary(max_size=30).filter(lambda b: 0x02 not in b), st.binary(max_size=30), st.integers(0, 14))
def test_a_valid_reply_is_found_in_noise(before: bytes, after: bytes, board: int) -> None:
    reply = encode_status_reply(board, 0x1234, 0x5678)
    assert reply in KerongScanner().feed(before + reply + after)
