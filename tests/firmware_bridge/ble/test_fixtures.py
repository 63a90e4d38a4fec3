"""Every captured advert in tests/fixtures/ble/adverts.json through every decoder, as captured and as real
stacks also deliver it: zero-padded to 31 bytes, with its AD structures in another order, split by a scanner
(bleak's 128-bit service UUID keys, or the short forms gateways publish)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.ble.decode import (
    Beacon,
    decode_advert,
    decode_eddystone,
    decode_fields,
    decode_manufacturer,
)

FIXTURES = json.loads((Path(__file__).parents[2] / "fixtures" / "ble" / "adverts.json").read_text())["adverts"]
BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"


def _structures(raw: bytes) -> list[bytes]:
    """Split advertising data into whole AD structures (length byte included); stops at padding or a cut."""
    out, i = [], 0
    while i < len(raw) and raw[i] and i + 1 + raw[i] <= len(raw):
        out.append(raw[i : i + 1 + raw[i]])
        i += 1 + raw[i]
    return out


def _split(raw: bytes) -> tuple[dict[int, bytes], dict[str, bytes]]:
    manufacturer: dict[int, bytes] = {}
    service: dict[str, bytes] = {}
    for s in _structures(raw):
        if s[1] == 0xFF and len(s) >= 4:
            manufacturer[s[2] | s[3] << 8] = s[4:]
        elif s[1] == 0x16 and len(s) >= 4:
            service[BASE_UUID.format(s[2] | s[3] << 8)] = s[4:]
    return manufacturer, service


def _forms(fixture: dict[str, Any]) -> tuple[bytes, dict[int, bytes], dict[str, bytes]]:
    if "raw" in fixture:
        raw = bytes.fromhex(fixture["raw"])
        return (raw, *_split(raw))
    fields = fixture["fields"]
    manufacturer = {int(k): bytes.fromhex(v) for k, v in fields.get("manufacturer", {}).items()}
    service = {BASE_UUID.format(int(k, 16)): bytes.fromhex(v) for k, v in fields.get("service", {}).items()}
    raw = b"".join(bytes((len(p) + 3, 0xFF, c & 0xFF, c >> 8)) + p for c, p in manufacturer.items())
    for uuid, p in service.items():
        short = int(uuid[4:8], 16)
        raw += bytes((len(p) + 3, 0x16, short & 0xFF, short >> 8)) + p
    return raw, manufacturer, service


def _as_dict(beacon: Beacon | None, expect: dict[str, Any] | None) -> dict[str, Any] | None:
    if beacon is None or expect is None:
        return None if beacon is None else {"type": type(beacon).__name__}
    seen = {"type": type(beacon).__name__} | beacon._asdict()
    return {key: seen.get(key) for key in expect}


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_fixture_decodes_as_stated(fixture: dict[str, Any]) -> None:
    assert fixture["source"], "every fixture names where its bytes come from"
    expect = fixture["expect"]
    raw, manufacturer, service = _forms(fixture)
    assert _as_dict(decode_advert(raw), expect) == expect, "decode_advert (raw AD structures)"
    assert _as_dict(decode_fields(manufacturer, service), expect) == expect, "decode_fields (bleak's split form)"
    found = [decode_manufacturer(c, p) for c, p in manufacturer.items()]
    found += [decode_eddystone(p) for u, p in service.items() if u.startswith("0000feaa")]
    decoded = [b for b in found if b is not None]
    assert [_as_dict(b, expect) for b in decoded] == ([expect] if expect else []), "the payload decoders"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_padding_and_order_do_not_matter(fixture: dict[str, Any]) -> None:
    expect = fixture["expect"]
    raw, _, _ = _forms(fixture)
    whole = b"".join(_structures(raw))
    padded = whole + bytes(max(0, 31 - len(whole)))  # an HCI report / 31-byte buffer: zeros after the data
    assert _as_dict(decode_advert(padded), expect) == expect
    reordered = b"".join(reversed(_structures(raw)))  # e.g. the beacon before flags and the UUID list
    assert _as_dict(decode_advert(reordered), expect) == expect


@pytest.mark.parametrize("key", ["feaa", "0xfeaa", "FEAA", "0000FEAA-0000-1000-8000-00805F9B34FB"])
def test_eddystone_service_keys_in_the_forms_gateways_use(key: str) -> None:
    tlm = bytes.fromhex("20000bb815000000004500000258")  # advlib-ble-services eddystone.test.js
    beacon = decode_fields({}, {key: tlm})
    assert beacon is not None and type(beacon).__name__ == "EddystoneTlm"


def test_a_scan_response_after_the_advert_is_read_too() -> None:
    flags_only = bytes.fromhex("020106") + bytes(28)  # the advert, zero-padded to 31 bytes
    scan_response = bytes.fromhex("1716aafe0004010203040506070809000102030405060000")  # kontakt-beacon-parser UID
    beacon = decode_advert(flags_only + scan_response)
    assert beacon is not None and type(beacon).__name__ == "EddystoneUid"
