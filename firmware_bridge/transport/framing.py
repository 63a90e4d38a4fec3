"""Byte-stream framing: resynchronise on a start marker, validate length/end byte/checksum, count bad frames.

A codec subclasses `FrameScanner` with two small methods; the scanner never raises on any input, so
noise before, inside or after a frame is skipped and a bad frame is counted and logged, never acted on.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

NEED_MORE = -1  # frame_length(): not enough bytes yet to know the length
NOT_A_FRAME = 0  # frame_length(): this start marker cannot begin a valid frame


class FrameScanner:
    """Turns arbitrary chunks of bytes into whole, validated raw frames (`bytes`)."""

    start: bytes = b"\x02"
    max_buffer = 4096

    def __init__(self, name: str = "") -> None:
        self.name = name or type(self).__name__
        self.buf = bytearray()
        self.bad_frames = 0
        self.skipped_bytes = 0

    def frame_length(self, buf: bytearray) -> int:
        """Total length of the frame starting at buf[0] (which holds the start marker), or NEED_MORE/NOT_A_FRAME."""
        raise NotImplementedError

    def is_valid(self, frame: bytes) -> bool:
        """True when end byte(s) and checksum of a complete candidate frame are right."""
        raise NotImplementedError

    def find_start(self, buf: bytearray) -> int:
        """Index of the first possible frame start in `buf`, or -1 (families with several header bytes override)."""
        return buf.find(self.start)

    def begins(self, data: bytes) -> bool:
        """True when `data` starts with a frame start (the fast path's check); overridden with `find_start`."""
        return data.startswith(self.start)

    def reset(self) -> None:
        """Forget a partial frame (e.g. after a timeout); the bytes count as skipped."""
        self.skipped_bytes += len(self.buf)
        self.buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self.buf
        if not buf and len(data) >= 4 and self.begins(data):  # fast path: exactly one whole frame
            n = self.frame_length(bytearray(data[:4]))
            if n == len(data) and self.is_valid(data):
                return [data]
        buf += data
        frames: list[bytes] = []
        start = self.start
        while buf:
            i = self.find_start(buf)
            if i < 0:
                keep = len(start) - 1
                if keep and buf[-keep:] == start[:keep]:
                    self.skipped_bytes += len(buf) - keep
                    del buf[:-keep]
                else:
                    self.skipped_bytes += len(buf)
                    buf.clear()
                break
            if i:
                self.skipped_bytes += i
                del buf[:i]
            n = self.frame_length(buf)
            if n == NEED_MORE or n > len(buf):
                if len(buf) > self.max_buffer:
                    self._bad(bytes(buf[:16]), "buffer overflow without a frame")
                    del buf[:1]
                    continue
                break
            if n == NOT_A_FRAME:
                self.skipped_bytes += 1
                del buf[:1]
                continue
            frame = bytes(buf[:n])
            if self.is_valid(frame):
                frames.append(frame)
                del buf[:n]
            else:
                self._bad(frame, "bad end byte or checksum")
                del buf[:1]
        return frames

    def _bad(self, frame: bytes, why: str) -> None:
        self.bad_frames += 1
        log.warning("%s: dropped a bad frame (%s): %s", self.name, why, frame.hex(" "))
