"""MQTT 5 packets the fast consumer and the ingest bench need: encoders, and a decoder that splits a byte buffer.

Written from the OASIS MQTT 5.0 standard (sections 2.1-2.2 fixed header and variable byte integer, 3.1
CONNECT, 3.2 CONNACK, 3.3 PUBLISH, 3.4 PUBACK, 3.8 SUBSCRIBE, 3.9 SUBACK, 3.12 PINGREQ, 3.14 DISCONNECT).
Pure: no sockets. `split` takes whatever bytes have arrived and returns the complete packets plus where
the unfinished one starts, so the reader can call `recv_into` with large buffers and decode many
messages per system call (paho reads each packet with three `recv` calls).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PROP_SESSION_EXPIRY, PROP_RECEIVE_MAXIMUM = 0x11, 0x21
MAX_PACKET = 268_435_455
PINGREQ_BYTES = b"\xc0\x00"
DISCONNECT_BYTES = b"\xe0\x00"


class WireError(ValueError):
    """The broker sent bytes that are not MQTT 5: the session cannot go on."""


class Packet(NamedTuple):
    kind: int  # packet type (high nibble of the first byte)
    flags: int  # low nibble
    body: bytes  # variable header + payload


class Publish(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0


def varint(value: int) -> bytes:
    if not 0 <= value <= MAX_PACKET:
        raise ValueError(f"{value} does not fit an MQTT variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect(client_id: str, keepalive: int, receive_maximum: int = 65535, clean_start: bool = True,
            session_expiry_s: int = 0, username: str = "", password: str = "") -> bytes:  # fmt: skip
    flags = (0x02 if clean_start else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    props = bytes((PROP_RECEIVE_MAXIMUM,)) + struct.pack("!H", receive_maximum)
    if session_expiry_s:
        props += bytes((PROP_SESSION_EXPIRY,)) + struct.pack("!I", session_expiry_s)
    body = _text("MQTT") + bytes((5, flags)) + struct.pack("!H", keepalive) + varint(len(props)) + props
    body += _text(client_id) + (_text(username) if username else b"") + (_text(password) if password else b"")
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, filters: list[str], qos: int = 1) -> bytes:
    body = struct.pack("!H", packet_id) + varint(0) + b"".join(_text(f) + bytes((qos,)) for f in filters)
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def publish(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    head = _text(topic) + (struct.pack("!H", packet_id) if qos else b"") + b"\x00"
    return _packet(PUBLISH << 4 | qos << 1, head + payload)


def puback(packet_id: int) -> bytes:
    return bytes((PUBACK << 4, 2, packet_id >> 8, packet_id & 0xFF))


def split(buffer: bytes | bytearray | memoryview, start: int = 0) -> tuple[list[Packet], int]:
    """Complete packets from `buffer[start:]` and the offset where the first incomplete one begins."""
    packets: list[Packet] = []
    end = len(buffer)
    pos = start
    while pos + 2 <= end:
        first = buffer[pos]
        length, i = read_varint(buffer, pos + 1, end)
        if i < 0 or i + length > end:
            return packets, pos
        packets.append(Packet(first >> 4, first & 0x0F, bytes(buffer[i : i + length])))
        pos = i + length
    return packets, pos


def read_publish(packet: Packet) -> Publish:
    body = packet.body
    qos = (packet.flags >> 1) & 0x03
    if qos == 3 or len(body) < 2:
        raise WireError("a PUBLISH with QoS 3 or without a topic")
    size = body[0] << 8 | body[1]
    topic = body[2 : 2 + size].decode("utf-8", "replace")
    pos = 2 + size
    packet_id = 0
    if qos:
        packet_id = body[pos] << 8 | body[pos + 1]
        pos += 2
    props = body[pos]
    if props < 0x80:  # the usual case: a one-byte property length (most often 0)
        pos += 1 + props
    else:
        _, used = _read_varint(body, pos)
        pos = used
    return Publish(topic, body[pos:], qos, packet_id)


def read_varint(buffer: bytes | bytearray | memoryview, at: int, end: int) -> tuple[int, int]:
    """An MQTT variable byte integer (a remaining length, a property length) at `at`: (value, offset after it), or
    (0, -1) when its bytes up to `end` do not all hold it yet (a stream waits for more; a packet is truncated)."""
    value = shift = 0
    while at < end:
        byte = buffer[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 21:
            raise WireError("a variable byte integer (a length) longer than four bytes")
    return 0, -1


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A variable byte integer inside a whole packet's body: its end is the body's."""
    value, after = read_varint(data, pos, len(data))
    if after < 0:
        raise WireError("a length that runs past the end of its packet")
    return value, after


def reason_code(packet: Packet) -> int:
    """The reason code of a CONNACK (byte 1), SUBACK (each granted QoS) or DISCONNECT (byte 0)."""
    if packet.kind == CONNACK:
        return packet.body[1] if len(packet.body) > 1 else 0
    if packet.kind == DISCONNECT:
        return packet.body[0] if packet.body else 0
    if packet.kind == SUBACK:
        _, pos = _read_varint(packet.body, 2)
        return max(packet.body[pos:] or b"\x00")
    return 0


def connack_receive_maximum(packet: Packet, default: int = 65535) -> int:
    """The broker's Receive Maximum from a CONNACK: how many QoS 1 messages we may have unacknowledged."""
    body = packet.body
    length, pos = _read_varint(body, 2)
    end = pos + length
    while pos < end:
        prop = body[pos]
        pos += 1
        if prop == PROP_RECEIVE_MAXIMUM:
            return int(body[pos] << 8 | body[pos + 1])
        size = _PROPERTY_SIZES.get(prop)
        if size is None:  # a string, binary or user property: length-prefixed
            if prop == 0x26:  # user property: two strings
                pos += 2 + (body[pos] << 8 | body[pos + 1])
            pos += 2 + (body[pos] << 8 | body[pos + 1])
        elif size == 0:
            _, pos = _read_varint(body, pos)
        else:
            pos += size
    return default


# Fixed sizes of CONNACK properties (0: a variable byte integer); the others are length-prefixed.
_PROPERTY_SIZES = {0x11: 4, 0x13: 2, 0x21: 2, 0x22: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
                   0x0B: 0}  # fmt: skip
