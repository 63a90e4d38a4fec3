"""Lines to devices: pyserial-URL transports with bus lock and reopen backoff, line settings, frame scanning."""

from firmware_bridge.transport.framing import NEED_MORE, NOT_A_FRAME, FrameScanner
from firmware_bridge.transport.line import LineSettings, bits_per_char, wire_time
from firmware_bridge.transport.serial_port import SerialTransport

__all__ = ["NEED_MORE", "NOT_A_FRAME", "FrameScanner", "LineSettings", "SerialTransport", "bits_per_char", "wire_time"]
