"""Coil (spiral) vending controller codec, "VMC ↔ upper computer" protocol: `FA FB CMD LEN PACKNO+TEXT XOR`.

LEN counts the packet number plus the text; POLL (0x41) and ACK (0x42) carry neither (LEN 0).
XOR is taken over every preceding byte including FA FB. Selections are 2-byte big-endian numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import SelectionHealth, VendStatus
from firmware_bridge.transport.framing import NEED_MORE, NOT_A_FRAME, FrameScanner

STX = b"\xfa\xfb"
POLL = 0x41
ACK = 0x42
CHECK_SELECTION = 0x01  # host -> VMC: packno, selection(2)
SELECTION_STATUS = 0x02  # VMC -> host: packno, status, selection(2)
SELECT_TO_BUY = 0x03  # host -> VMC: packno, selection(2)
DISPENSE_STATUS = 0x04  # VMC -> host: packno, status, selection(2) [, microwave number]
SELECT_OR_CANCEL = 0x05
DRIVE_SELECTION = 0x06  # host -> VMC: packno, drop sensor(1), elevator(1), selection(2)
MAX_TEXT = 64  # longest PACKNO+TEXT we accept; longer LEN bytes are noise

DISPENSING = 0x01
FINAL_STATUSES: dict[int, VendStatus] = {
    0x02: VendStatus.SUCCESS,
    0x03: VendStatus.JAMMED,
    0x04: VendStatus.MOTOR_DID_NOT_STOP,
    0x06: VendStatus.NO_MOTOR,
    0xFF: VendStatus.TERMINATED,
}
# elevator / microwave progress reports: the vend is still under way
IN_PROGRESS = frozenset({DISPENSING, 0x10, 0x11, 0x14, 0x16, 0x18, 0x19, 0x22, 0x23, 0x26})
SELECTION_HEALTH: dict[int, SelectionHealth] = {
    0x01: SelectionHealth.OK,
    0x02: SelectionHealth.SOLD_OUT,  # out of stock (as far as the VMC counts)
    0x03: SelectionHealth.NO_MOTOR,  # selection does not exist
    0x04: SelectionHealth.PAUSED,
}


def xor(data: bytes | bytearray) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode(command: int, text: bytes = b"") -> bytes:
    """A whole frame; `text` is PACKNO+TEXT (empty for POLL and ACK)."""
    if len(text) > 255:
        raise ValueError("a VMC frame carries at most 255 bytes of packet number + text")
    body = STX + bytes((command, len(text))) + text
    return body + bytes((xor(body),))


POLL_FRAME = encode(POLL)
ACK_FRAME = encode(ACK)


def _selection(selection: int) -> bytes:
    if not 0 < selection <= 0xFFFF:
        raise ValueError(f"selection {selection} is out of range 1..65535")
    return selection.to_bytes(2, "big")


def _packet_no(packet_no: int) -> int:
    if not 1 <= packet_no <= 255:
        raise ValueError(f"packet number {packet_no} is out of range 1..255")
    return packet_no


def encode_drive(packet_no: int, selection: int, drop_sensor: bool = True, elevator: bool = False) -> bytes:
    text = bytes((_packet_no(packet_no), int(drop_sensor), int(elevator))) + _selection(selection)
    return encode(DRIVE_SELECTION, text)


def encode_check(packet_no: int, selection: int) -> bytes:
    return encode(CHECK_SELECTION, bytes((_packet_no(packet_no),)) + _selection(selection))


def encode_dispense_status(packet_no: int, status: int, selection: int) -> bytes:
    return encode(DISPENSE_STATUS, bytes((_packet_no(packet_no), status)) + _selection(selection))


def encode_selection_status(packet_no: int, status: int, selection: int) -> bytes:
    return encode(SELECTION_STATUS, bytes((_packet_no(packet_no), status)) + _selection(selection))


@dataclass(frozen=True, slots=True)
class CoilFrame:
    """A validated frame: `packet_no` is None for POLL/ACK, `text` is what follows the packet number."""

    command: int
    packet_no: int | None
    text: bytes


@dataclass(frozen=True, slots=True)
class DispenseReport:
    packet_no: int
    status: int
    selection: int

    @property
    def final(self) -> VendStatus | None:
        """The vend's outcome, or None while it is still under way. Unknown codes count as a jam."""
        if self.status in IN_PROGRESS:
            return None
        return FINAL_STATUSES.get(self.status, VendStatus.JAMMED)


@dataclass(frozen=True, slots=True)
class DriveRequest:
    packet_no: int
    drop_sensor: bool
    elevator: bool
    selection: int


@dataclass(frozen=True, slots=True)
class SelectionReport:
    packet_no: int
    status: int
    selection: int

    @property
    def health(self) -> SelectionHealth:
        return SELECTION_HEALTH.get(self.status, SelectionHealth.FAULT)


def decode(frame: bytes) -> CoilFrame:
    """Validate one whole frame; raises FrameError naming what is wrong."""
    if len(frame) < 5 or frame[:2] != STX:
        raise FrameError(f"a VMC frame starts with fa fb and is at least 5 bytes: {frame.hex(' ')}")
    length = frame[3]
    if len(frame) != 5 + length:
        raise FrameError(f"VMC frame LEN={length} needs {5 + length} bytes, got {len(frame)}: {frame.hex(' ')}")
    if xor(frame[:-1]) != frame[-1]:
        raise FrameError(f"VMC frame XOR is {frame[-1]:02x}, expected {xor(frame[:-1]):02x}: {frame.hex(' ')}")
    if length == 0:
        return CoilFrame(frame[2], None, b"")
    return CoilFrame(frame[2], frame[4], bytes(frame[5:-1]))


def _need(frame: CoilFrame, command: int, size: int, what: str) -> bytes:
    if frame.command != command or frame.packet_no is None or len(frame.text) < size:
        raise FrameError(f"not a {what} frame (command {frame.command:02x}, text {frame.text.hex(' ')})")
    return frame.text


def dispense_report(frame: CoilFrame) -> DispenseReport:
    text = _need(frame, DISPENSE_STATUS, 3, "dispense status")
    return DispenseReport(frame.packet_no or 0, text[0], int.from_bytes(text[1:3], "big"))


def selection_report(frame: CoilFrame) -> SelectionReport:
    text = _need(frame, SELECTION_STATUS, 3, "selection status")
    return SelectionReport(frame.packet_no or 0, text[0], int.from_bytes(text[1:3], "big"))


def drive_request(frame: CoilFrame) -> DriveRequest:
    text = _need(frame, DRIVE_SELECTION, 4, "drive selection")
    return DriveRequest(frame.packet_no or 0, bool(text[0]), bool(text[1]), int.from_bytes(text[2:4], "big"))


def check_request(frame: CoilFrame) -> tuple[int, int]:
    """(packet number, selection) of a CHECK_SELECTION request."""
    text = _need(frame, CHECK_SELECTION, 2, "check selection")
    return frame.packet_no or 0, int.from_bytes(text[0:2], "big")


class CoilScanner(FrameScanner):
    """Finds VMC frames in a byte stream: FA FB, then LEN tells the total length, XOR validates."""

    start = STX

    def frame_length(self, buf: bytearray) -> int:
        if len(buf) < 4:
            return NEED_MORE
        if buf[3] > MAX_TEXT:
            return NOT_A_FRAME
        return 5 + buf[3]

    def is_valid(self, frame: bytes) -> bool:
        return xor(frame[:-1]) == frame[-1]
