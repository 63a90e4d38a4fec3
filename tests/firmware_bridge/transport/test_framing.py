"""FrameScanner resynchronisation, shown with the KR-CU16 and VMC scanners."""

from __future__ import annotations

from firmware_bridge.coil.codec import POLL_FRAME, CoilScanner, encode_dispense_status
from firmware_bridge.kerong.codec import KerongScanner, encode_status_reply


def test_garbage_before_between_and_after_frames_is_skipped() -> None:
    reply = encode_status_reply(0, 0xFFFF, 0x0001)
    scanner = KerongScanner()
    assert scanner.feed(b"\x00\xff\x02\x99" + reply + b"\x13\x02" + reply + b"\x37") == [reply, reply]
    assert scanner.skipped_bytes >= 4


def test_a_frame_split_across_reads_is_reassembled() -> None:
    frame = encode_dispense_status(7, 2, 12)
    scanner = CoilScanner()
    out = []
    for i in range(len(frame)):
        out += scanner.feed(frame[i : i + 1])
    assert out == [frame]


def test_a_bad_checksum_is_counted_and_the_next_frame_still_found() -> None:
    reply = bytearray(encode_status_reply(1, 3, 4))
    reply[-1] ^= 1
    scanner = KerongScanner()
    good = encode_status_reply(1, 5, 6)
    assert scanner.feed(bytes(reply) + good) == [good]
    assert scanner.bad_frames == 1


def test_a_truncated_frame_followed_by_a_good_one() -> None:
    good = encode_status_reply(2, 0, 0)
    scanner = KerongScanner()
    assert scanner.feed(good[:5] + good) == [good]


def test_vmc_start_marker_split_over_reads() -> None:
    scanner = CoilScanner()
    assert scanner.feed(b"\x00\x00\xfa") == []
    assert scanner.feed(POLL_FRAME[1:]) == [POLL_FRAME]


def test_reset_forgets_a_partial_frame() -> None:
    scanner = KerongScanner()
    scanner.feed(b"\x02\x00\x35\x01")
    scanner.reset()
    assert scanner.buf == bytearray()
