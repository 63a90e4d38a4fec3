"""The third-party gateway formats' parsers on payloads as the gateways send them (literal samples, sources named).

Sources: OpenMQTTGateway's docs/use/ble.md (the decoded iBeacon messages, `presenceUseBeaconUuid`, the
`pubadvdata` Qingping example); Minew G1 uploads quoted in public integrations (a Java asset tracker's
request log of 2019-08-01, a 2017 G1 capture with decoded iBeacon records); Ingics' own
ingics-message-parser tests (`$HBRP`, iBS03T `$GPRP`), a C# positioning server's sample line
(`$GPRP,AC233F23BB8C,...` iBeacon) and an iGS JSON `{"data": [...]}` body quoted by a Java integration.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.sources import ingics, minew, theengs
from tracking.sources.formats import FormatContext
from tracking.sources.limits import Rejected


def _context(at: str = "2026-03-02T10:00:00Z") -> FormatContext:
    return FormatContext(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp(), TelemetryMatcher())


# ---- OpenMQTTGateway / Theengs ----------------------------------------------------------------------------

OMG_IBEACON = (
    '{"id":"58:78:20:76:BC:24","mac_type":1,"rssi":-79,"brand":"GENERIC","model":"iBeacon","model_id":"IBEACON",'
    '"mfid":"4c00","uuid":"1de4b189115e45f6b44e509352269977","major":0,"minor":0,"txpower":-66}'
)
OMG_UUID_AS_ID = (
    '{"id":"1de4b189115e45f6b44e509352269977","mac_type":1,"rssi":-78,"distance":7.85288,"brand":"GENERIC",'
    '"model":"iBeacon","model_id":"IBEACON","mfid":"4c00","uuid":"1de4b189115e45f6b44e509352269977","major":0,'
    '"minor":0,"txpower":-66,"mac":"60:87:57:4C:9B:C2"}'
)
OMG_QINGPING = (
    '{"id":"11:22:33:44:55:66","mac_type":0,"adv_type":0,"name":"Qingping Motion & Light","rssi":-93,'
    '"servicedata":"88121122334455660201520f0126090403000000","servicedatauuid":"0xfdcd","brand":"Qingping",'
    '"model":"Motion & Light","model_id":"CGPR1","lux":3,"batt":82}'
)
OMG_KEY = "ib-1de4b189115e45f6b44e509352269977-0-0"


def test_theengs_decoded_ibeacon_is_enough() -> None:
    found = theengs.parse_bt_message("icu-1", OMG_IBEACON, _context())
    seen = [(o.gateway_id, o.tag_key, o.rssi, o.ref_power) for o in found.observations]
    assert seen == [("icu-1", OMG_KEY, -79, -66)]


def test_theengs_uuid_as_id_takes_the_address_from_mac() -> None:
    context = _context()
    found = theengs.parse_bt_message("icu-1", OMG_UUID_AS_ID, context)
    assert found.observations[0].tag_key == OMG_KEY
    assert context.matcher.identify("60:87:57:4c:9b:c2", _tlm()) == OMG_KEY  # the address was learnt


def _tlm():  # type: ignore[no-untyped-def]
    from firmware_bridge.ble.decode import decode_eddystone

    return decode_eddystone(bytes.fromhex("20000bb8150000000a0000000064"))


def test_theengs_raw_manufacturerdata_goes_through_our_decoder() -> None:
    payload = {"id": "AC:23:3F:A0:31:FA", "rssi": -61,
               "manufacturerdata": "4c000215426c7565436861726d426561636f6e730efe1355c5"}  # fmt: skip
    found = theengs.parse_bt_message("icu-1", json.dumps(payload), _context())
    assert found.observations[0].tag_key == "ib-426c7565436861726d426561636f6e73-3838-4949"
    assert found.observations[0].ref_power == -59


def test_theengs_raw_eddystone_servicedata() -> None:
    context = _context()
    uid = {"id": "C7:3B:54:27:9C:12", "rssi": -70, "servicedatauuid": "0xfeaa",
           "servicedata": "00e8edd5b9b1d48c3e3d4d3e000000000001"}  # fmt: skip
    tlm = {"id": "C7:3B:54:27:9C:12", "rssi": -71, "servicedatauuid": "0xfeaa",
           "servicedata": "20000bb8150000000a0000000064"}  # fmt: skip
    first = theengs.parse_bt_message("icu-1", json.dumps(uid), context)
    second = theengs.parse_bt_message("icu-1", json.dumps(tlm), context)
    assert first.observations[0].tag_key == "eu-edd5b9b1d48c3e3d4d3e-000000000001"
    assert (second.observations[0].tag_key, second.observations[0].battery_mv) == (first.observations[0].tag_key, 3000)


def test_theengs_other_devices_are_ignored_not_refused() -> None:
    found = theengs.parse_bt_message("icu-1", OMG_QINGPING, _context())
    assert (found.observations, found.rejected, found.ignored) == ([], [], 1)


def test_theengs_health_records() -> None:
    assert theengs.parse_lwt("icu-1", b"offline").heartbeat is False
    assert theengs.parse_lwt("icu-1", b"online").heartbeat is True
    system = '{"uptime":7355,"version":"v1.7.0","freemem":146228,"rssi":-66,"tempc":57.8}'
    assert theengs.parse_system("icu-1", system).heartbeat is True


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ('{"id":"58:78:20:76:BC:24","rssi":-79,"model_id":"IBEACON","uuid":"1de4","major":0,"minor":0,"txpower":-66}',
         "uuid:bad_format"),
        ('{"id":"58:78:20:76:BC:24","rssi":-79,"model_id":"IBEACON","uuid":"1de4b189115e45f6b44e509352269977",'
         '"major":70000,"minor":0,"txpower":-66}', "major:out_of_range"),
        ('{"id":"not a mac","rssi":-79}', "id:bad_format"),
        ('{"id":"58:78:20:76:BC:24","rssi":"-79"}', "rssi:wrong_type"),
        ('{"id":"58:78:20:76:BC:24","rssi":-79,"manufacturerdata":"4c0002zz"}', "manufacturerdata:bad_format"),
        ('[1, 2]', "payload:wrong_type"),
    ],
)  # fmt: skip
def test_theengs_refusals_name_the_field(payload: str, key: str) -> None:
    with pytest.raises(Rejected) as caught:
        theengs.parse_bt_message("icu-1", payload, _context())
    assert caught.value.key == key


# ---- Minew ---------------------------------------------------------------------------------------------

MINEW_2019 = "\n".join([
    '[{"timestamp":"2019-08-01T05:54:25Z","type":"Gateway","mac":"AC233FC001EA","gatewayFree":98,"gatewayLoad":0.05},',
    '{"timestamp":"2019-08-01T05:54:25Z","type":"Unknown","mac":"AC233FA03208","bleName":"","rssi":-79,'
    '"rawData":"0201060303E1FF0D16E1FFA10264000832A03F23AC"},',
    '{"timestamp":"2019-08-01T05:54:25Z","type":"S1","mac":"AC233FA018E3","bleName":"S1","rssi":-54,"battery":100,'
    '"temperature":26.69,"humidity":65.14},',
    '{"timestamp":"2019-08-01T05:54:25Z","type":"Unknown","mac":"AC233FA018E3","bleName":"","rssi":-53,"rawData":""}]',
])  # fmt: skip
MINEW_IBEACON = (
    '[{"timestamp":"2017-09-06T09:37:45Z","type":"iBeacon","mac":"1918FC051F5B","bleName":"",'
    '"ibeaconUuid":"FDA50693A4E24FB1AFCFC6EB07647825","ibeaconMajor":10002,"ibeaconMinor":5208,"rssi":-74,'
    '"ibeaconTxPower":-59,"battery":0}]'
)


def test_minew_gateway_record_is_a_heartbeat_and_sensor_records_are_ignored() -> None:
    found = minew.parse_upload(minew.load_body(MINEW_2019), "ward-3", _context("2019-08-01T05:54:30Z"))
    assert (found.heartbeat, found.observations, found.rejected, found.ignored) == (True, [], [], 3)


def test_minew_decoded_ibeacon_record_uses_the_gateway_timestamp() -> None:
    context = _context("2017-09-06T09:37:50Z")
    found = minew.parse_upload(minew.load_body(MINEW_IBEACON), "ward-3", context)
    (obs,) = found.observations
    assert (obs.tag_key, obs.rssi, obs.ref_power) == ("ib-fda50693a4e24fb1afcfc6eb07647825-10002-5208", -74, -59)
    assert obs.at == context.now - 5
    assert found.heartbeat is None


def test_minew_raw_ibeacon_and_per_record_refusals() -> None:
    body = [
        {"type": "Gateway", "mac": "AC233FC001EA"},
        {"type": "Unknown", "mac": "C300007B573C", "rssi": -66,
         "rawData": "0201061AFF4C000215FDA50693A4E24FB1AFCFC6EB0764782500000000C5"},
        {"type": "Unknown", "mac": "C300007B573C", "rssi": 99, "rawData": "020106"},
        {"type": "Unknown", "mac": "C300007B573C", "rssi": -60, "rawData": "02010", "timestamp": "yesterday"},
        "not a record",
    ]  # fmt: skip
    found = minew.parse_upload(body, "ward-3", _context())
    assert [o.tag_key for o in found.observations] == ["ib-fda50693a4e24fb1afcfc6eb07647825-0-0"]
    assert [(e.index, e.key) for e in found.rejected] == [(2, "rssi:out_of_range"), (3, "timestamp:bad_format"),
                                                         (4, "record:wrong_type")]  # fmt: skip


def test_minew_body_must_be_an_array_of_bounded_length() -> None:
    with pytest.raises(Rejected) as caught:
        minew.parse_upload({"adverts": []}, "ward-3", _context())
    assert caught.value.key == "body:wrong_type"
    with pytest.raises(Rejected) as caught:
        minew.parse_upload([{}] * (minew.MAX_RECORDS + 1), "ward-3", _context())
    assert caught.value.key == "body:too_large"


# ---- Ingics ----------------------------------------------------------------------------------------------

INGICS_IBEACON = "$GPRP,AC233F23BB8C,F90AF395ECD1,-44,0201061AFF4C000215FDA50693A4E24FB1AFCFC6EB0764782527114CB9C5"
INGICS_HEARTBEAT = "$HBRP,F008D1798C60,F008D1798C60,-127,00000000,1635322857"
INGICS_IBS03T = "$GPRP,0C61CFC14A4E,E3C33FF55AEC,-50,02010612FF0D0083BC2801020A09FFFF000015030000"


def test_ingics_lines_as_text() -> None:
    body = "\r\n".join([INGICS_IBEACON, INGICS_HEARTBEAT, INGICS_IBS03T, ""]).encode()
    found = ingics.parse_report(ingics.load_lines(body), "dock-1", _context("2021-10-27T08:20:57Z"))
    (obs,) = found.observations
    assert (obs.gateway_id, obs.tag_key, obs.rssi) == ("dock-1", "ib-fda50693a4e24fb1afcfc6eb07647825-10001-19641", -44)
    assert (found.heartbeat, found.ignored, found.rejected) == (True, 1, [])


def test_ingics_json_body_with_gateway_time() -> None:
    body = ('{ "data": [ "$GPRP,FA71BEF0EAB7,C1D8ACFD33AB,-51,0DFF5900060000816F1861621FFF0A094F4E444F5F42414E44,'
            '1623741675" ] }')  # fmt: skip
    found = ingics.parse_report(ingics.load_lines(body), "dock-1", _context("2021-06-15T07:21:20Z"))
    assert (found.observations, found.ignored, found.rejected) == ([], 1, [])
    stamped = INGICS_IBEACON + ",1591609841.895"
    found = ingics.parse_report([stamped], "dock-1", _context("2020-06-08T09:50:42Z"))
    assert found.observations[0].at == pytest.approx(1591609841.895)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("$GPRP,AC233F23BB8C,F90AF395ECD1,-44", "line:bad_format"),
        ("$GPRP,AC233F23BB8,F90AF395ECD1,-44,0201", "tag_mac:bad_format"),
        ("$GPRP,AC233F23BB8C,F90AF395ECD1,minus,0201", "rssi:bad_format"),
        ("$GPRP,AC233F23BB8C,F90AF395ECD1,-300,0201", "rssi:out_of_range"),
        ("$GPRP,AC233F23BB8C,F90AF395ECD1,-44,02G1", "data:bad_format"),
        (INGICS_IBEACON + ",99999999999", "time:in_future"),
        ("$GPRP,AC233F23BB8C,F90AF395ECD1,-44," + "00" * 400, "line:too_long"),
    ],
)
def test_ingics_bad_lines_are_refused_one_by_one(line: str, key: str) -> None:
    found = ingics.parse_report([line, INGICS_IBEACON], "dock-1", _context())
    assert [(e.index, e.key) for e in found.rejected] == [(0, key)]
    assert len(found.observations) == 1
