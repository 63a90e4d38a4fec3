"""Every captured advert of tests/fixtures/ble/adverts.json through every gateway format, as each gateway would
carry it: our raw-advert batch, OpenMQTTGateway/Theengs JSON (manufacturerdata with its company id first,
servicedata with servicedatauuid), a Minew `rawData` record and an Ingics `$GPRP` line. Each must give the tag
the fixture states (the address's tag for Eddystone-URL, the battery for TLM once the address is known), and a
fixture that is none of our beacons must be ignored, never refused or misread."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from firmware_bridge.ble.decode import decode_advert
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tests.firmware_bridge.ble.test_fixtures import FIXTURES, _forms
from tracking.observation import Observation
from tracking.sources import ingics, minew, theengs
from tracking.sources.batch import parse_batch
from tracking.sources.formats import FormatContext, Outcome

NOW = 1_780_000_000.0
ADDRESS = "02:00:5E:00:53:01"
UID_FRAME = "00e8edd5b9b1d48c3e3d4d3e000000000001"  # identifies ADDRESS before a TLM fixture
Send = Callable[[bytes, FormatContext], Outcome]


def _batch(raw: bytes, context: FormatContext) -> Outcome:
    result = parse_batch({"adverts": [{"address": ADDRESS, "rssi": -60, "data": raw.hex()}]}, "gw", context.now,
                         context.matcher, context.times)  # fmt: skip
    return Outcome("gw", result.observations, result.rejected, result.ignored)


def _theengs(raw: bytes, context: FormatContext) -> Outcome:
    message: dict[str, Any] = {"id": ADDRESS, "mac_type": 0, "rssi": -60}
    for structure in _structures(raw):
        if structure[1] == 0xFF and "manufacturerdata" not in message:
            message["manufacturerdata"] = structure[2:].hex()
        elif structure[1] == 0x16 and "servicedata" not in message:
            message["servicedatauuid"] = f"0x{structure[3]:02x}{structure[2]:02x}"
            message["servicedata"] = structure[4:].hex()
    return theengs.parse_bt_message("gw", json.dumps(message), context)


def _minew(raw: bytes, context: FormatContext) -> Outcome:
    record = {"timestamp": "2026-05-28T20:26:40Z", "type": "Unknown", "mac": ADDRESS.replace(":", ""), "bleName": "",
              "rssi": -60, "rawData": raw.hex().upper()}  # fmt: skip
    return minew.parse_upload(minew.load_body(json.dumps([record])), "gw", context)


def _ingics(raw: bytes, context: FormatContext) -> Outcome:
    line = f"$GPRP,{ADDRESS.replace(':', '')},F008D1798C60,-60,{raw.hex().upper()},{int(context.now)}"
    return ingics.parse_report(ingics.load_lines(line.encode()), "gw", context)


def _structures(raw: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == 0:
            i += 1
            continue
        if i + 1 + raw[i] > len(raw):
            break  # a stray byte after the last structure (beacontools' TLM capture): the gateway splits no more
        out.append(raw[i : i + 1 + raw[i]])
        i += 1 + raw[i]
    return out


FORMATS: dict[str, Send] = {"batch": _batch, "theengs": _theengs, "minew": _minew, "ingics": _ingics}


def _expected(fixture: dict[str, Any]) -> Any:
    """What the observation must carry; the id frames' key is the decoder's (its decode is pinned by the corpus
    test in tests/firmware_bridge/ble/test_fixtures.py)."""
    expect = fixture["expect"]
    if expect is None:
        return None
    if expect["type"] == "EddystoneUrl":
        return f"mac-{ADDRESS.lower()}"
    if expect["type"] == "EddystoneTlm":
        return ("eu-edd5b9b1d48c3e3d4d3e-000000000001", expect["battery_mv"], expect["temperature_c"])
    beacon = decode_advert(_forms(fixture)[0])
    assert beacon is not None and type(beacon).__name__ == expect["type"]
    return expect.get("tag_key", getattr(beacon, "tag_key", None))


def _seen(observations: list[Observation], tlm: bool) -> Any:
    if not observations:
        return None
    (obs,) = observations
    return (obs.tag_key, obs.battery_mv, obs.temperature_c) if tlm else obs.tag_key


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_fixture_through_gateway_format(fixture: dict[str, Any], fmt: str) -> None:
    send = FORMATS[fmt]
    raw = _forms(fixture)[0]
    context = FormatContext(NOW, TelemetryMatcher())
    tlm = bool(fixture["expect"]) and fixture["expect"]["type"] == "EddystoneTlm"
    if tlm:
        alone = send(raw, context)  # a TLM frame from an address not identified yet carries no tag
        assert (alone.observations, alone.rejected, alone.ignored) == ([], [], 1)
        uid = bytes.fromhex("0303aafe1516aafe" + UID_FRAME)
        assert send(uid, context).observations
    outcome = send(raw, context)
    assert outcome.rejected == [], f"{fmt} refused a real advert: {outcome.rejected}"
    assert _seen(outcome.observations, tlm) == _expected(fixture)
    assert outcome.ignored == (0 if fixture["expect"] else 1)
    for obs in outcome.observations:  # a +26/+30 dBm power byte (real beacons in the corpus) is dropped, not kept
        assert obs.ref_power is None or -127 <= obs.ref_power <= 20
