"""Pure, allocation-light decoders for iBeacon, Eddystone (UID, URL, TLM) and AltBeacon advert payloads.

Results are immutable NamedTuples: a frozen dataclass costs ~1 µs to build, three times a tuple, and
the location engine reads hundreds of thousands of adverts a second. The iBeacon decode keeps no cache (one
struct call and one f-string); raw adverts are memoised in `decode_advert` (bounded), and `clear_caches()`
empties every memo (a cold start: the benchmark's cold figure).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

APPLE_COMPANY_ID = 0x004C
EDDYSTONE_UUID16 = 0xFEAA
TLM_NO_TEMPERATURE = -0x8000  # 0x8000 as signed 8.8 means "not supported"
RSSI_AT_1M_FROM_0M = -41  # Eddystone tx power is measured at 0 m; at 1 m it is about 41 dB lower

_IBEACON = struct.Struct(">2x16sHHb")  # (02 15) UUID, major, minor, measured power at 1 m
_ALTBEACON = struct.Struct(">bB")  # reference RSSI at 1 m, manufacturer reserved
_TLM = struct.Struct(">BHhII")  # version, battery mV, temperature 8.8, advert count, uptime in 0.1 s
_UID_POWER = struct.Struct(">b")

_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip

_KEY_CACHE_LIMIT = 200_000
_make_tuple = tuple.__new__
_unpack_ibeacon = _IBEACON.unpack_from
_alt_keys: dict[bytes, str] = {}
_uid_keys: dict[bytes, str] = {}


class IBeacon(NamedTuple):
    tag_key: str  # "ib-<uuid hex>-<major>-<minor>"
    major: int
    minor: int
    power_1m: int  # measured RSSI at 1 m, dBm

    @property
    def uuid(self) -> str:
        return self.tag_key.split("-")[1]


class AltBeacon(NamedTuple):
    tag_key: str  # "alt-<20-byte beacon id hex>"
    company_id: int
    power_1m: int
    reserved: int


class EddystoneUid(NamedTuple):
    tag_key: str  # "eu-<namespace hex>-<instance hex>"
    namespace: str
    instance: str
    power_0m: int

    @property
    def power_1m(self) -> int:
        return self.power_0m + RSSI_AT_1M_FROM_0M


class EddystoneUrl(NamedTuple):
    url: str
    power_0m: int

    @property
    def power_1m(self) -> int:
        return self.power_0m + RSSI_AT_1M_FROM_0M


class EddystoneTlm(NamedTuple):
    version: int
    battery_mv: int | None  # None when the tag reports 0 (not supported)
    temperature_c: float | None  # signed 8.8 fixed point; None for 0x8000 (not supported)
    advert_count: int
    uptime_s: float


Beacon = IBeacon | AltBeacon | EddystoneUid | EddystoneUrl | EddystoneTlm


def _key(cache: dict[bytes, str], prefix: str, raw_id: bytes, split: int = 0) -> str:
    key = cache.get(raw_id)
    if key is None:
        if len(cache) >= _KEY_CACHE_LIMIT:
            cache.clear()
        key = f"{prefix}-{raw_id[:split].hex()}-{raw_id[split:].hex()}" if split else f"{prefix}-{raw_id.hex()}"
        cache[raw_id] = key
    return key


def decode_ibeacon(payload: bytes) -> IBeacon | None:
    """Apple manufacturer data after the company id: `02 15 UUID(16) MAJOR(2) MINOR(2) POWER(int8)`.

    No memo: one struct call and one f-string cost less than a memo's miss (hash, copy, insert) on a cold
    stream; raw adverts are memoised one level up, in `decode_advert`.
    """
    if len(payload) < 23 or payload[0] != 0x02 or payload[1] != 0x15:
        return None
    uuid, major, minor, power = _unpack_ibeacon(payload)
    return _make_tuple(IBeacon, (f"ib-{uuid.hex()}-{major}-{minor}", major, minor, power))  # IBeacon(...) minus a frame


def decode_altbeacon(company_id: int, payload: bytes) -> AltBeacon | None:
    """Manufacturer data after the company id: `BE AC ID(20) REFRSSI(int8) RESERVED(1)`."""
    if len(payload) < 24 or payload[0] != 0xBE or payload[1] != 0xAC:
        return None
    power, reserved = _ALTBEACON.unpack_from(payload, 22)
    return AltBeacon(_key(_alt_keys, "alt", payload[2:22]), company_id, power, reserved)


def decode_eddystone(payload: bytes) -> EddystoneUid | EddystoneUrl | EddystoneTlm | None:
    """Service data of UUID 0xFEAA; the first byte is the frame type (0x00 UID, 0x10 URL, 0x20 TLM)."""
    if len(payload) < 2:
        return None
    frame = payload[0]  # the whole byte: vendors put their own frames beside it (BlueCharm's 0x21 KSensor)
    if frame == 0x00:
        if len(payload) < 18:
            return None
        key = _key(_uid_keys, "eu", payload[2:18], 10)
        return EddystoneUid(key, payload[2:12].hex(), payload[12:18].hex(), _UID_POWER.unpack_from(payload, 1)[0])
    if frame == 0x20:
        if len(payload) < 14 or payload[1] != 0x00:  # version 0 is the only unencrypted TLM
            return None
        version, battery, temp, count, uptime = _TLM.unpack_from(payload, 1)
        temperature = None if temp == TLM_NO_TEMPERATURE else temp / 256.0
        return EddystoneTlm(version, battery or None, temperature, count, uptime / 10.0)
    if frame == 0x10:
        if len(payload) < 3 or payload[2] >= len(_URL_SCHEMES):
            return None
        return EddystoneUrl(_expand_url(payload[2], payload[3:]), _UID_POWER.unpack_from(payload, 1)[0])
    return None


def _expand_url(scheme: int, body: bytes) -> str:
    parts = [_URL_SCHEMES[scheme]]
    for byte in body:
        if byte < len(_URL_EXPANSIONS):
            parts.append(_URL_EXPANSIONS[byte])
        elif 0x20 < byte < 0x7F:
            parts.append(chr(byte))
        else:
            parts.append(f"%{byte:02X}")
    return "".join(parts)


def decode_manufacturer(company_id: int, payload: bytes) -> IBeacon | AltBeacon | None:
    if company_id == APPLE_COMPANY_ID:
        found = decode_ibeacon(payload)
        if found is not None:
            return found
    return decode_altbeacon(company_id, payload)


_ID_FRAMES: dict[bytes, Beacon] = {}  # raw advert -> decoded id frame (pure function of the bytes)


def clear_caches() -> None:
    """Empty every memo of this module (a cold start: the benchmark's cold figure, tests)."""
    for cache in (_alt_keys, _uid_keys, _ID_FRAMES):
        cache.clear()


def decode_advert(data: bytes) -> Beacon | None:
    """Raw advertising data (AD structures: length, type, value...) to the first beacon frame found.

    Id frames (iBeacon, AltBeacon, Eddystone UID/URL) are a pure function of their bytes and a tag sends
    the same bytes every time, so their results are memoised by the raw advert (bounded); TLM is not.
    """
    found = _ID_FRAMES.get(data)
    if found is not None:
        return found
    found = _decode_structures(data)
    if found is not None and not isinstance(found, EddystoneTlm):
        if len(_ID_FRAMES) >= _KEY_CACHE_LIMIT:
            _ID_FRAMES.clear()
        _ID_FRAMES[bytes(data)] = found
    return found


def _decode_structures(data: bytes) -> Beacon | None:
    end = len(data)
    i = 0
    while i < end:
        length = data[i]
        if length == 0:  # padding of a fixed-size buffer; a scan response may follow it (adv + scan rsp dumps)
            i += 1
            continue
        if i + 1 + length > end:
            return None
        ad_type = data[i + 1]
        if ad_type == 0xFF and length >= 3:
            found = decode_manufacturer(data[i + 2] | data[i + 3] << 8, data[i + 4 : i + 1 + length])
            if found is not None:
                return found
        elif ad_type == 0x16 and length >= 3 and data[i + 2] == 0xAA and data[i + 3] == 0xFE:
            found_e = decode_eddystone(data[i + 4 : i + 1 + length])
            if found_e is not None:
                return found_e
        i += 1 + length
    return None


def decode_fields(manufacturer_data: dict[int, bytes], service_data: dict[str, bytes]) -> Beacon | None:
    """Decode from already split fields, as bleak's AdvertisementData carries them."""
    for company_id, payload in manufacturer_data.items():
        found = decode_manufacturer(company_id, bytes(payload))
        if found is not None:
            return found
    for uuid, payload in service_data.items():
        if _is_eddystone_uuid(uuid):
            return decode_eddystone(bytes(payload))
    return None


def _is_eddystone_uuid(uuid: str) -> bool:
    """bleak's full form `0000feaa-0000-1000-8000-00805f9b34fb`, and the short `feaa` / `0xfeaa` gateways publish."""
    key = uuid.lower()
    return key.startswith("0000feaa-") or key in ("feaa", "0xfeaa")


def tag_key_of(beacon: Beacon, address: str) -> str:
    """The stable tag key: the beacon's own id, or the address for frames that carry none (URL, TLM)."""
    key = getattr(beacon, "tag_key", None)
    return key if isinstance(key, str) else f"mac-{address.lower()}"
