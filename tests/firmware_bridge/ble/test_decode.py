"""BLE beacon decoders against literal adverts laid out as the iBeacon, Eddystone and AltBeacon specs give them."""

from __future__ import annotations

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from firmware_bridge.ble.decode import (
    AltBeacon,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    IBeacon,
    decode_advert,
    decode_altbeacon,
    decode_eddystone,
    decode_fields,
    decode_ibeacon,
)
from firmware_bridge.ble.telemetry import TelemetryMatcher

# Flags + Apple manufacturer data: UUID 83256B74-78D0-43A4-8269-05F9DC8A44BA, major 16, minor 32, power -58 (C6)
IBEACON_ADVERT = bytes.fromhex("02011a1aff4c00021583256b7478d043a4826905f9dc8a44ba00100020c6")
# AltBeacon spec: MFG 0x0118, BEAC, id 2F234454-CF6D-4A0F-ADF2-F4911BA9FFA6-0001-0002, ref RSSI -59 (C5), reserved 00
ALTBEACON_ADVERT = bytes.fromhex("1bff1801beac2f234454cf6d4a0fadf2f4911ba9ffa600010002c500")
# Eddystone UID: tx power -18 dBm at 0 m (EE), namespace 10 bytes, instance 6 bytes, 2 reserved
EDDYSTONE_UID_ADVERT = bytes.fromhex("0201060303aafe1716aafe00ee" + "edd1ebeac04e5defa017" + "0badc0ffee01" + "0000")
# Eddystone URL: tx -20 (EC), scheme 0x00 "http://www.", "google", 0x07 ".com"
EDDYSTONE_URL_ADVERT = bytes.fromhex("0201060303aafe0d16aafe10ec00" + b"google".hex() + "07")
# Eddystone TLM v0: 3000 mV (0BB8), -1.0 °C (FF00), 1234 adverts, uptime 36000 (3600.0 s)
TLM_FRIDGE = bytes.fromhex("2000" + "0bb8" + "ff00" + "000004d2" + "00008ca0")


def test_ibeacon_literal_advert() -> None:
    beacon = decode_advert(IBEACON_ADVERT)
    assert beacon == IBeacon("ib-83256b7478d043a4826905f9dc8a44ba-16-32", 16, 32, -58)
    assert isinstance(beacon, IBeacon) and beacon.uuid == "83256b7478d043a4826905f9dc8a44ba"


def test_ibeacon_key_is_stable_and_result_frozen() -> None:
    first, second = decode_advert(IBEACON_ADVERT), decode_advert(bytes(IBEACON_ADVERT))
    assert first is not None and second is not None and first.tag_key == second.tag_key  # type: ignore[union-attr]
    with pytest.raises(AttributeError):
        first.major = 1  # type: ignore[misc,union-attr]


def test_altbeacon_literal_advert() -> None:
    beacon = decode_advert(ALTBEACON_ADVERT)
    assert beacon == AltBeacon("alt-2f234454cf6d4a0fadf2f4911ba9ffa600010002", 0x0118, -59, 0)


def test_eddystone_uid_literal_advert() -> None:
    beacon = decode_advert(EDDYSTONE_UID_ADVERT)
    assert beacon == EddystoneUid("eu-edd1ebeac04e5defa017-0badc0ffee01", "edd1ebeac04e5defa017", "0badc0ffee01", -18)
    assert isinstance(beacon, EddystoneUid) and beacon.power_1m == -59


def test_eddystone_url_literal_advert() -> None:
    assert decode_advert(EDDYSTONE_URL_ADVERT) == EddystoneUrl("http://www.google.com", -20)


def test_tlm_negative_temperature_reads_negative() -> None:
    tlm = decode_eddystone(TLM_FRIDGE)
    assert tlm == EddystoneTlm(0, 3000, -1.0, 1234, 3600.0)
    minus_five_and_half = decode_eddystone(bytes.fromhex("20000bb8fa80000000000000000a"))
    assert isinstance(minus_five_and_half, EddystoneTlm) and minus_five_and_half.temperature_c == -5.5


def test_tlm_unsupported_fields_are_none() -> None:
    tlm = decode_eddystone(bytes.fromhex("20000000800000000001" + "00000001"))
    assert isinstance(tlm, EddystoneTlm) and tlm.battery_mv is None and tlm.temperature_c is None


def test_tlm_matched_to_its_tag_by_address() -> None:
    matcher = TelemetryMatcher()
    uid = decode_advert(EDDYSTONE_UID_ADVERT)
    tlm = decode_eddystone(TLM_FRIDGE)
    assert uid is not None and tlm is not None
    assert matcher.identify("AA:BB:CC:00:00:01", tlm) is None  # not yet identified
    assert matcher.identify("AA:BB:CC:00:00:01", uid) == "eu-edd1ebeac04e5defa017-0badc0ffee01"
    assert matcher.identify("aa:bb:cc:00:00:01", tlm) == "eu-edd1ebeac04e5defa017-0badc0ffee01"
    assert matcher.identify("AA:BB:CC:00:00:02", tlm) is None


def test_fields_as_bleak_gives_them() -> None:
    mfr = {0x004C: IBEACON_ADVERT[7:]}
    assert isinstance(decode_fields(mfr, {}), IBeacon)
    service = {"0000feaa-0000-1000-8000-00805f9b34fb": TLM_FRIDGE}
    assert isinstance(decode_fields({}, service), EddystoneTlm)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\x1a\xff\x4c\x00\x02", IBEACON_ADVERT[:-1], b"\x02\x01\x06", b"\x05\x16\xaa\xfe\x30\x00"],
)
def test_truncated_or_foreign_adverts_decode_to_none(raw: bytes) -> None:
    assert decode_advert(raw) is None


# ---- seeded fuzzing: any bytes decode to a result or None, never an exception ---------------------------

FUZZ = settings(max_examples=300, deadline=None, derandomize=False, print_blob=True)


@seed(6001)
@FUZZ
@given(st.binary(max_size=40))
def test_fuzz_ibeacon(payload: bytes) -> None:
    result = decode_ibeacon(payload)
    assert result is None or (-128 <= result.power_1m <= 127 and 0 <= result.major <= 0xFFFF)


@seed(6002)
@FUZZ
@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_fuzz_altbeacon(company: int, payload: bytes) -> None:
    result = decode_altbeacon(company, payload)
    assert result is None or len(result.tag_key) == 4 + 40


@seed(6003)
@FUZZ
@given(st.binary(max_size=30))
def test_fuzz_eddystone(payload: bytes) -> None:
    result = decode_eddystone(payload)
    if isinstance(result, EddystoneTlm) and result.temperature_c is not None:
        assert -128.0 <= result.temperature_c < 128.0


@seed(6004)
@FUZZ
@given(st.binary(max_size=62))
def test_fuzz_raw_advert(data: bytes) -> None:
    decode_advert(data)
