"""0x8A/0x80 XOR lock-board codec against literal frames quoted in public locker projects, plus a seeded fuzz.

Sources of the literal frames (see docs/hardware.md for the full list and where they disagree):
- ROS 2 `lock_controller` README (protocol "485锁控板通讯协议2024A1", Guangzhou Shuoming): 8A 01 01 11 9B,
  8A 01 00 11 9A, 80 01 01 33 B3, 80 01 00 33 B2; state 11 = locked, 00 = open.
- ETexsys WashingCabinet `ComUitilities.cs`: unlock answered 8A 01 01 00 8A; read 80 01 01 33 B3 answered
  80 01 01 11 91 (door closed) or 80 01 01 00 80 (door open).
- Open-Locker ADR-0061 and its ESP32 bench notes: a verified 8-channel board answers 80 01 00 33 B2 with
  80 01 00 00 00 33 B2 (three status bytes); its TypeScript codec test: 8A 02 01 11 98, 80 02 00 33 B1, a
  12-channel bitmap sent highest group first.
- A Kotlin serial test app (TempActivity): "lock 2 open 80 01 00 00 02 33 B0", "lock 5 open 80 01 00 00 20 33 92".
- Android serial demos: 8A 01 06 11 9C and 8A 01 07 11 9D (open locks 6 and 7).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import DoorState
from firmware_bridge.xorboard.codec import (
    HEAD_READ,
    HEAD_UNLOCK,
    Polarity,
    XorRequest,
    XorScanner,
    bcc,
    decode_bitmap_reply,
    decode_lock_reply,
    decode_request,
    encode_bitmap_reply,
    encode_lock_reply,
    encode_read,
    encode_read_all,
    encode_unlock,
    encode_unlock_all,
)

# print_blob: a failure prints "@reproduce_failure(...)" to paste above the test; the seed pins the run.
FUZZ = settings(max_examples=400, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
OPEN_ON_SET = Polarity(bit_set_closed=False)
CLOSED_ON_SET = Polarity(bit_set_closed=True)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (encode_unlock(1, 1), "8a 01 01 11 9b"),  # ROS 2 lock_controller README, ETexsys, Open-Locker
        (encode_unlock_all(1), "8a 01 00 11 9a"),  # ROS 2 README "全开", the issue text
        (encode_read(1, 1), "80 01 01 33 b3"),  # ROS 2 README, ETexsys
        (encode_read_all(1), "80 01 00 33 b2"),  # ROS 2 README, Open-Locker bench, the issue text
        (encode_unlock(2, 1), "8a 02 01 11 98"),  # Open-Locker codec test (board 2, wire channel 1)
        (encode_read_all(2), "80 02 00 33 b1"),  # Open-Locker codec test
        (encode_unlock(1, 6), "8a 01 06 11 9c"),  # Kotlin serial test app "开第6把锁"
        (encode_unlock(1, 7), "8a 01 07 11 9d"),  # Kotlin serial test app "开第7把锁"
        (encode_unlock(2, 10), "8a 02 0a 11 93"),  # Open-Locker Android mapper test (zone B, lock 10)
        (encode_unlock(3, 12), "8a 03 0c 11 94"),  # Open-Locker Android mapper test
    ],
)
def test_requests_match_public_frames(frame: bytes, expected: str) -> None:
    assert frame.hex(" ") == expected
    request = decode_request(frame)
    assert request == XorRequest(frame[0], frame[1], frame[2], frame[3])


def test_bcc_is_the_xor_of_every_byte() -> None:
    assert bcc(bytes.fromhex("8a010111")) == 0x9B  # a C# unit test of the same boards: Test_ComputeCheck_1
    assert bcc(bytes.fromhex("80010111")) == 0x91  # ... Test_ComputeCheck_2
    assert bcc(b"") == 0


@pytest.mark.parametrize(
    ("frame", "state_byte", "door"),
    [
        ("8a 01 01 00 8a", 0x00, DoorState.OPEN),  # ETexsys: the unlock worked; Open-Locker "success frame"
        ("8a 01 01 11 9b", 0x11, DoorState.CLOSED),  # Open-Locker "failure frame" (same bytes as the request)
        ("80 01 01 11 91", 0x11, DoorState.CLOSED),  # ETexsys GetDoorState: 1 = door closed
        ("80 01 01 00 80", 0x00, DoorState.OPEN),  # ETexsys GetDoorState: 2 = door open
        ("8a 02 0a 00 82", 0x00, DoorState.OPEN),  # Open-Locker mapper test, expected success frame
    ],
)
def test_one_lock_replies(frame: str, state_byte: int, door: DoorState) -> None:
    reply = decode_lock_reply(bytes.fromhex(frame))
    assert reply.state_byte == state_byte
    assert Polarity().state(reply.state_byte) is door
    inverted = Polarity(state_11_closed=False)  # boards whose feedback reads the other way (see docs)
    assert inverted.state(reply.state_byte) is not door
    assert encode_lock_reply(reply.head, reply.board, reply.lock, reply.state_byte) == bytes.fromhex(frame)


def test_a_state_byte_that_is_neither_00_nor_11_is_unknown() -> None:
    assert Polarity().state(0x33) is DoorState.UNKNOWN


def test_verified_eight_channel_bitmap_three_bytes() -> None:
    frame = bytes.fromhex("80 01 00 00 00 33 b2")  # Open-Locker ADR-0061, a real 8-channel board at address 1
    bitmap = decode_bitmap_reply(frame, 3)
    assert (bitmap.board, bitmap.bits, bitmap.channels) == (1, 0, 24)
    assert encode_bitmap_reply(1, 0, 3) == frame


# The app's comments say "lock 2" for 0x02 and "lock 5" for 0x20; with bit i = channel i + 1 (the Open-Locker
# codec test) 0x20 is channel 6: one of the two comments is off by one. Both put CH1-8 in the *last* byte.
@pytest.mark.parametrize(("frame", "open_lock"), [("80 01 00 00 02 33 b0", 2), ("80 01 00 00 20 33 92", 6)])
def test_kotlin_capture_one_open_lock_sets_its_bit_in_the_last_byte(frame: str, open_lock: int) -> None:
    bitmap = decode_bitmap_reply(bytes.fromhex(frame), 3, high_group_first=True)
    doors = [bitmap.door(lock, OPEN_ON_SET) for lock in range(1, 25)]
    assert [i + 1 for i, d in enumerate(doors) if d is DoorState.OPEN] == [open_lock]


def test_twelve_channel_bitmap_highest_group_first() -> None:
    body = bytes((0x80, 0x02, 0b0101, 0b0000_0011, 0x33))  # Open-Locker codec test, 'door_closing' wiring
    bitmap = decode_bitmap_reply(body + bytes((bcc(body),)), 2)
    doors = [bitmap.door(lock, CLOSED_ON_SET) for lock in range(1, 13)]
    closed, opened = DoorState.CLOSED, DoorState.OPEN
    assert doors[:4] == [closed, closed, opened, opened]
    assert doors[8:] == [closed, opened, closed, opened]


def test_low_group_first_order_for_boards_documented_that_way() -> None:
    frame = encode_bitmap_reply(1, 0b1, 3, high_group_first=False)  # ConDms: S1 = CH1-8
    assert frame.hex(" ") == "80 01 01 00 00 33 b3"
    assert decode_bitmap_reply(frame, 3, high_group_first=False).bits == 1
    assert decode_bitmap_reply(frame, 3, high_group_first=True).bits == 1 << 16  # the other reading


def test_fifty_channel_board_seven_status_bytes() -> None:
    frame = encode_bitmap_reply(1, (1 << 50) - 1, 7)  # ConDms: 80 BB S1..S7 33 BCC = 11 bytes
    assert len(frame) == 11 and frame[-2] == 0x33
    assert decode_bitmap_reply(frame, 7).door(50, CLOSED_ON_SET) is DoorState.CLOSED
    assert decode_bitmap_reply(frame, 7).door(50, Polarity()) is DoorState.OPEN  # the default reads set = open


def test_malformed_frames_raise_frame_error_naming_the_problem() -> None:
    with pytest.raises(FrameError, match="BCC"):
        decode_lock_reply(bytes.fromhex("8a 01 01 00 00"))
    with pytest.raises(FrameError, match="5 bytes"):
        decode_lock_reply(bytes.fromhex("80"))
    with pytest.raises(FrameError, match="function 11"):
        decode_request(bytes.fromhex("8a 01 01 33 b9"))
    with pytest.raises(FrameError, match="33 BCC"):
        body = bytes.fromhex("8a 01 00 00 00 33")  # right length and BCC, wrong head
        decode_bitmap_reply(body + bytes((bcc(body),)), 3)
    with pytest.raises(ValueError, match="encode_unlock_all"):
        encode_unlock(1, 0)
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode_read(256, 1)


def test_scanner_resyncs_on_garbage_and_splits_both_families() -> None:
    garbage = bytes.fromhex("ff 00 8a 33")  # a stray header byte whose "frame" fails the BCC
    stream = garbage + bytes.fromhex("8a 01 01 00 8a") + b"\x13" + bytes.fromhex("80 01 01 11 91")
    scanner = XorScanner()
    assert scanner.feed(stream[:7]) == []
    assert scanner.feed(stream[7:]) == [bytes.fromhex("8a 01 01 00 8a"), bytes.fromhex("80 01 01 11 91")]
    assert scanner.bad_frames >= 1
    bitmap_scanner = XorScanner(bitmap_bytes=3)
    assert bitmap_scanner.feed(bytes.fromhex("00 80 01 00 00 00 33 b2")) == [bytes.fromhex("80 01 00 00 00 33 b2")]


@seed(20261206)
@FUZZ
@given(st.binary(max_size=40), st.integers(1, 8))
def test_decoders_raise_only_frame_error(data: bytes, n_bytes: int) -> None:
    for decoder in (decode_request, decode_lock_reply):
        with contextlib.suppress(FrameError):
            decoder(data)
    with contextlib.suppress(FrameError):
        decode_bitmap_reply(data, n_bytes)


@seed(20261206)
@FUZZ
@given(st.binary(max_size=200), st.sampled_from([None, 2, 3, 6, 7]))
def test_scanner_never_raises_and_only_yields_valid_frames(data: bytes, n_bytes: int | None) -> None:
    for frame in XorScanner(bitmap_bytes=n_bytes).feed(data):
        assert frame[0] in (HEAD_UNLOCK, HEAD_READ) and bcc(frame[:-1]) == frame[-1]


@seed(20261206)
@FUZZ
@given(st.integers(0, 255), st.integers(1, 7), st.data())
def test_bitmap_round_trips_and_a_bad_bcc_is_never_accepted(board: int, n_bytes: int, data: st.DataObject) -> None:
    bits = data.draw(st.integers(0, (1 << (8 * n_bytes)) - 1))
    order = data.draw(st.booleans())
    delta = data.draw(st.integers(1, 255))
    good = encode_bitmap_reply(board, bits, n_bytes, order)
    assert decode_bitmap_reply(good, n_bytes, order).bits == bits
    bad = good[:-1] + bytes((good[-1] ^ delta,))
    with pytest.raises(FrameError):
        decode_bitmap_reply(bad, n_bytes, order)
    assert XorScanner(bitmap_bytes=n_bytes).feed(bad) == []


@seed(20261206)
@FUZZ
@given(
    st.binary(max_size=30).filter(lambda b: HEAD_UNLOCK not in b and HEAD_READ not in b),
    st.binary(max_size=30),
    st.integers(0, 255),
    st.integers(1, 255),
)
def test_a_valid_reply_is_found_in_noise(before: bytes, after: bytes, board: int, lock: int) -> None:
    reply = encode_lock_reply(HEAD_UNLOCK, board, lock, 0x00)
    assert reply in XorScanner().feed(before + reply + after)
