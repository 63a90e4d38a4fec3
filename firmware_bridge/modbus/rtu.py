"""Modbus RTU line facts shared by the client, the simulators and the benchmark: CRC-16, frame sizes, timing."""

from __future__ import annotations

from dataclasses import dataclass

# Function codes we speak, with the names used in error messages.
FUNCTION_NAMES: dict[int, str] = {
    0x01: "read coils",
    0x02: "read discrete inputs",
    0x03: "read holding registers",
    0x04: "read input registers",
    0x05: "write single coil",
    0x06: "write single register",
    0x0F: "write multiple coils",
    0x10: "write multiple registers",
}

EXCEPTION_NAMES: dict[int, str] = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge",
    0x06: "server device busy",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}

EXCEPTION_HINTS: dict[int, str] = {
    0x01: "the device does not implement this function; check the register map preset or board model",
    0x02: "the address is not on this device; check the register map, relay channel or door input",
    0x03: "the device rejected the value; check the pulse length or command code",
    0x04: "the device reported an internal failure; power-cycle it and check its wiring",
    0x06: "the device is busy; the request can be repeated later",
    0x0A: "the gateway has no path to this device id; check the gateway's routing",
    0x0B: "the gateway got no answer from this device id; check the id, its power and the RS-485 wiring",
}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame: bytes) -> bytes:
    crc = crc16(frame)
    return frame + bytes((crc & 0xFF, crc >> 8))


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == (frame[-2] | frame[-1] << 8)


def request_length(buffer: bytes) -> int | None:
    """Length of the RTU request at the start of `buffer`, or None when more bytes are needed to tell."""
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if function in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06):
        return 8
    if function in (0x0F, 0x10):
        return None if len(buffer) < 7 else 9 + buffer[6]
    return -1  # unknown function: the caller resynchronises


@dataclass(frozen=True, slots=True)
class LineTiming:
    """Character and inter-frame times of a serial line (Modbus over serial line spec, 2.5.1.1)."""

    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1

    @property
    def bits_per_char(self) -> int:
        return 1 + self.bytesize + (0 if self.parity.upper() == "N" else 1) + self.stopbits

    @property
    def char_time(self) -> float:
        return self.bits_per_char / self.baudrate

    @property
    def t35(self) -> float:
        """3.5 character times; above 19200 baud the spec fixes it at 1.75 ms."""
        return 0.00175 if self.baudrate > 19200 else 3.5 * self.char_time

    @property
    def inter_frame_gap(self) -> float:
        """What we keep between the end of one frame and the start of the next: t3.5 + 1 ms of margin."""
        return self.t35 + 0.001

    def wire_time(self, n_bytes: int) -> float:
        return n_bytes * self.char_time

    def poll_cycle(self, request_bytes: int, reply_bytes: int, turnaround: float = 0.0) -> float:
        """One request/reply on the line: both frames, the slave's silent t3.5 and our gap before the next."""
        return self.wire_time(request_bytes + reply_bytes) + self.t35 + turnaround + self.inter_frame_gap
