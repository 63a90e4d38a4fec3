"""Badge normalisation: MIFARE UIDs in every byte order readers emit, HID 26-bit facility+card, wedge input.

A normalised badge is a string such as "MF:04A22B1C" or "HID:123:45678". Readers disagree on byte order
and on hex versus decimal, so `candidates()` gives every canonical form a raw read could stand for;
a credential matches when its stored value is one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext

from core.errors import DomainError

_SENTINELS = re.compile(r"[\x00-\x1f;%?+]")
_HEX_SEPARATED = re.compile(r"^[0-9A-F]{2}([:\- ][0-9A-F]{2}){3,9}$")
_HID_PAIR = re.compile(r"^(?:HID[: ]?)?(\d{1,3})\s*[:/\-,]\s*(\d{1,5})$")
_HID_RAW = re.compile(r"^H26[: ]?([0-9A-F]{1,7})$")
_MIFARE_PREFIXED = re.compile(r"^MF[: ]?([0-9A-F]+)$")


class BadgeError(DomainError):
    """Badge input that cannot be read; the message says what a readable badge looks like."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="badge", code="bad_badge")


@dataclass(frozen=True, slots=True)
class Badge:
    """One read: the canonical value to store and every value it may match."""

    raw: str
    canonical: str
    candidates: tuple[str, ...]


def clean_wedge(raw: str) -> str:
    """Strip what keyboard-wedge readers add: Enter, sentinels (; % ?), spaces at the ends, case."""
    return _SENTINELS.sub("", raw).strip().upper()


def hid26_from_bits(bits: int) -> tuple[int, int]:
    """Decode an H10301 26-bit frame (even parity, 8-bit facility, 16-bit card, odd parity), checking parity."""
    if bits < 0 or bits >= 1 << 26:
        raise BadgeError(lazy_gettext("a 26-bit HID frame is at most 0x3FFFFFF: check the reader's output format"))
    first13 = bits >> 13
    last13 = bits & 0x1FFF
    if bin(first13).count("1") % 2 != 0:
        raise BadgeError(lazy_gettext("HID 26-bit frame fails its even parity bit: re-read the card"))
    if bin(last13).count("1") % 2 != 1:
        raise BadgeError(lazy_gettext("HID 26-bit frame fails its odd parity bit: re-read the card"))
    payload = (bits >> 1) & 0xFFFFFF
    return payload >> 16, payload & 0xFFFF


def hid26_to_bits(facility: int, card: int) -> int:
    """Build the H10301 frame for a facility+card (used by simulators and tests)."""
    payload = (facility & 0xFF) << 16 | (card & 0xFFFF)
    bits = payload << 1
    if bin(bits >> 13).count("1") % 2:
        bits |= 1 << 25
    if bin(bits & 0x1FFF).count("1") % 2 == 0:
        bits |= 1
    return bits


def _hid(facility: int, card: int) -> str:
    if not 0 <= facility <= 255 or not 0 <= card <= 65535:
        raise BadgeError(lazy_gettext("HID 26-bit needs facility 0-255 and card 0-65535"))
    return f"HID:{facility}:{card}"


def _mifare_forms(uid: bytes) -> tuple[str, ...]:
    forward = "MF:" + uid.hex().upper()
    backward = "MF:" + uid[::-1].hex().upper()
    return (forward,) if forward == backward else (forward, backward)


def normalise(raw: str) -> Badge:
    """Read a badge from any supported text form; raise BadgeError naming what was expected."""
    text = clean_wedge(raw)
    if not text:
        raise BadgeError(lazy_gettext("the badge read was empty: hold the card to the reader again"))
    if match := _HID_PAIR.match(text):
        value = _hid(int(match.group(1)), int(match.group(2)))
        return Badge(raw, value, (value,))
    if match := _HID_RAW.match(text):
        facility, card = hid26_from_bits(int(match.group(1), 16))
        value = _hid(facility, card)
        return Badge(raw, value, (value,))
    if match := _MIFARE_PREFIXED.match(text):
        text = match.group(1)
    if _HEX_SEPARATED.match(text):
        text = re.sub(r"[:\- ]", "", text)
    hex_like = re.fullmatch(r"[0-9A-F]+", text) is not None and len(text) in (8, 14, 20)
    if text.isdigit() and not hex_like:
        return _from_decimal(raw, int(text))
    if hex_like:
        forms = _mifare_forms(bytes.fromhex(text))
        if text.isdigit():  # "10000000" may be hex or decimal: accept both readings, store the hex one
            forms += tuple(f for f in _from_decimal(raw, int(text)).candidates if f not in forms)
        return Badge(raw, forms[0], forms)
    raise BadgeError(
        lazy_gettext(
            "badge %(badge)s is not a MIFARE UID (4, 7 or 10 bytes in hex or decimal) nor HID facility:card "
            "(e.g. 123:45678): check the reader's output format",
            badge=repr(raw.strip()),
        )
    )


def _from_decimal(raw: str, number: int) -> Badge:
    for size in (4, 7, 10):
        if number < 1 << (8 * size):
            forms = _mifare_forms(number.to_bytes(size, "big"))
            return Badge(raw, forms[0], forms)
    raise BadgeError(
        lazy_gettext(
            "badge number %(badge)s is longer than a 10-byte UID: check the reader's format", badge=repr(raw.strip())
        )
    )
