"""Badge normalisation (MIFARE byte orders, decimal, HID 26-bit) and the serial badge reader over a real pty."""

from __future__ import annotations

import os
import threading
import tty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vending.badge_reader import FrameSplitter, SerialBadgeReader
from vending.badges import Badge, BadgeError, hid26_from_bits, hid26_to_bits, normalise


@pytest.mark.parametrize(
    "raw",
    ["04A22B1C", "04:a2:2b:1c", "04-A2-2B-1C", ";04A22B1C?\r\n", "MF:04A22B1C", " 04 A2 2B 1C ", "0077736924"],
)
def test_mifare_forms_match_one_credential(raw: str) -> None:
    badge = normalise(raw)
    if raw == "0077736924":  # ten-digit decimal, as many wedge readers emit a 4-byte UID
        assert badge.canonical == "MF:" + (77736924).to_bytes(4, "big").hex().upper()
        return
    assert "MF:04A22B1C" in badge.candidates


def test_reversed_byte_order_matches_the_same_card() -> None:
    assert "MF:04A22B1C" in normalise("1C2BA204").candidates
    decimal_le = int.from_bytes(bytes.fromhex("04A22B1C"), "little")
    assert "MF:04A22B1C" in normalise(f"{decimal_le:010d}").candidates


def test_seven_byte_uid() -> None:
    assert normalise("04:11:22:33:44:55:66").canonical == "MF:04112233445566"


def test_hid_facility_and_card() -> None:
    assert normalise("123:45678").canonical == "HID:123:45678"
    assert normalise("123/45678\r").canonical == "HID:123:45678"
    frame = hid26_to_bits(123, 45678)
    assert normalise(f"H26:{frame:07X}").canonical == "HID:123:45678"


def test_hid_parity_error_is_named() -> None:
    with pytest.raises(BadgeError, match="parity"):
        hid26_from_bits(hid26_to_bits(12, 3456) ^ 1)


@pytest.mark.parametrize("raw", ["", "\r\n", "hello", "12:999999", "ZZ11"])
def test_unreadable_badges_say_what_is_expected(raw: str) -> None:
    with pytest.raises(BadgeError) as info:
        normalise(raw)
    assert info.value.field == "badge"


@settings(max_examples=200, derandomize=True)
@given(st.integers(0, 255), st.integers(0, 65535))
def test_hid26_round_trip(facility: int, card: int) -> None:
    """Reproduce a failure with: pytest tests/vending/test_badges.py -k round_trip (derandomized)."""
    assert hid26_from_bits(hid26_to_bits(facility, card)) == (facility, card)


@settings(max_examples=200, derandomize=True)
@given(st.binary(min_size=4, max_size=4))
def test_any_four_byte_uid_matches_in_both_orders(uid: bytes) -> None:
    forward = normalise(uid.hex())
    backward = normalise(uid[::-1].hex())
    assert forward.canonical in backward.candidates and backward.canonical in forward.candidates


def test_frame_splitter_handles_stx_etx_and_noise() -> None:
    splitter = FrameSplitter(max_len=20)
    frames = splitter.feed(b"\x0204A22B1C\x03" + b"x" * 30 + b"\r\n123:45678\r\n")
    assert frames == ["04A22B1C", "123:45678"]


def test_serial_reader_over_a_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    got: list[Badge] = []
    errors: list[str] = []
    seen = threading.Event()

    def on_badge(badge: Badge) -> None:
        got.append(badge)
        if len(got) == 2:
            seen.set()

    reader = SerialBadgeReader(os.ttyname(slave), on_badge, on_error=errors.append)
    reader.start()
    try:
        assert reader.opened.wait(5), f"reader could not open the pty: {errors}"
        os.write(master, b"\x0204A22B1C\x03")
        os.write(master, b"garbage!\r\n")
        os.write(master, b"123:45678\r\n")
        assert seen.wait(5), f"reader saw {got}, errors {errors}"
    finally:
        reader.stop()
        os.close(master)
        os.close(slave)
    assert [b.canonical for b in got] == ["MF:04A22B1C", "HID:123:45678"]
    assert any("GARBAGE" in e or "garbage" in e for e in errors)
