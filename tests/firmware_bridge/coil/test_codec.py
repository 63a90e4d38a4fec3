"""VMC ↔ host frames: literal bytes (POLL/ACK from the protocol document), status mapping, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.coil.codec import (
    ACK_FRAME,
    DISPENSE_STATUS,
    POLL_FRAME,
    CoilFrame,
    CoilScanner,
    DispenseReport,
    DriveRequest,
    check_request,
    decode,
    dispense_report,
    drive_request,
    encode,
    encode_check,
    encode_dispense_status,
    encode_drive,
    encode_selection_status,
    selection_report,
    xor,
)
from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import SelectionHealth, VendStatus

FUZZ = settings(
    derandomize=True, max_examples=400, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (POLL_FRAME, "fa fb 41 00 40"),  # from the protocol document
        (ACK_FRAME, "fa fb 42 00 43"),
        (encode_drive(1, 12), "fa fb 06 05 01 01 00 00 0c 0e"),  # packno, drop sensor, elevator, selection
        (encode_drive(255, 0x0102, drop_sensor=False, elevator=True), "fa fb 06 05 ff 00 01 01 02 ff"),
        (encode_check(2, 5), "fa fb 01 03 02 00 05 04"),
        (encode_dispense_status(3, 0x02, 12), "fa fb 04 04 03 02 00 0c 0c"),
        (encode_selection_status(9, 0x01, 5), "fa fb 02 04 09 01 00 05 0a"),
    ],
)
def test_frames_match_the_layout(frame: bytes, expected: str) -> None:
    assert frame.hex(" ") == expected


def test_decode_splits_packet_number_and_text() -> None:
    assert decode(POLL_FRAME) == CoilFrame(0x41, None, b"")
    frame = decode(encode_drive(7, 300))
    assert frame.packet_no == 7
    assert drive_request(frame) == DriveRequest(7, True, False, 300)
    assert check_request(decode(encode_check(4, 9))) == (4, 9)
    assert selection_report(decode(encode_selection_status(1, 3, 9))).health is SelectionHealth.NO_MOTOR


@pytest.mark.parametrize(
    ("status", "health"),
    [
        (0x01, SelectionHealth.OK),
        (0x02, SelectionHealth.SOLD_OUT),
        (0x03, SelectionHealth.NO_MOTOR),
        (0x04, SelectionHealth.PAUSED),
        (0x7E, SelectionHealth.FAULT),
    ],
)
def test_selection_status_tells_sold_out_and_paused_apart(status: int, health: SelectionHealth) -> None:
    assert selection_report(decode(encode_selection_status(2, status, 12))).health is health


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (0x01, None),
        (0x02, VendStatus.SUCCESS),
        (0x03, VendStatus.JAMMED),
        (0x04, VendStatus.MOTOR_DID_NOT_STOP),
        (0x06, VendStatus.NO_MOTOR),
        (0xFF, VendStatus.TERMINATED),
        (0x10, None),  # elevator ascending: still under way
        (0x07, VendStatus.JAMMED),  # elevator error: not vended
    ],
)
def test_every_dispense_status_maps_to_an_outcome(status: int, final: VendStatus | None) -> None:
    report = dispense_report(decode(encode_dispense_status(1, status, 3)))
    assert report == DispenseReport(1, status, 3)
    assert report.final is final


def test_a_dispense_status_with_a_microwave_byte_is_accepted() -> None:
    frame = encode(DISPENSE_STATUS, bytes((5, 2, 0, 3, 1)))
    assert dispense_report(decode(frame)).final is VendStatus.SUCCESS


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("fa fb 41 00 41", "XOR"),
        ("fa fb 41 01 40", "LEN=1"),
        ("fb fa 41 00 40", "starts with fa fb"),
        ("fa", "at least 5 bytes"),
    ],
)
def test_bad_frames_say_what_is_wrong(frame: str, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode(bytes.fromhex(frame))


def test_wrong_kind_of_frame_is_refused() -> None:
    with pytest.raises(FrameError, match="dispense status"):
        dispense_report(decode(POLL_FRAME))


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError, match="packet number"):
        encode_drive(0, 1)
    with pytest.raises(ValueError, match="selection"):
        encode_drive(1, 70000)


@FUZZ
@given(st.binary(max_size=80))
def test_decoders_raise_only_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        frame = decode(data)
        for parse in (dispense_report, selection_report, drive_request, check_request):
            with contextlib.suppress(FrameError):
                parse(frame)


@FUZZ
@given(st.binary(max_size=200))
def test_scanner_never_raises_and_only_yields_valid_frames(data: bytes) -> None:
    for frame in CoilScanner().feed(data):
        assert frame[:2] == b"\xfa\xfb" and len(frame) == 5 + frame[3] and xor(frame[:-1]) == frame[-1]


@FUZZ
@given(st.integers(0, 255), st.binary(max_size=20), st.integers(1, 255))
def test_no_frame_with_a_bad_checksum_is_accepted(command: int, text: bytes, delta: int) -> None:
    good = encode(command, text)
    bad = good[:-1] + bytes((good[-1] ^ delta,))
    with pytest.raises(FrameError):
        decode(bad)
    assert CoilScanner().feed(bad) == []
    assert decode(good).command == command


@FUZZ
@given(st.binary(max_size=30).filter(lambda b: 0xFA not in b), st.binary(max_size=30), st.integers(1, 255))
def test_a_valid_frame_is_found_in_noise(before: bytes, after: bytes, packet_no: int) -> None:
    frame = encode_dispense_status(packet_no, 2, 17)
    assert frame in CoilScanner().feed(before + frame + after)
