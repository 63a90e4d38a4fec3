"""Minew-style gateway HTTP uploads (G1, MG3 and gateways that copy them): a JSON array, gateway record first.

    [{"timestamp":"2019-08-01T05:54:25Z","type":"Gateway","mac":"AC233FC001EA","gatewayFree":98,"gatewayLoad":0.05},
     {"timestamp":"2019-08-01T05:54:25Z","type":"Unknown","mac":"AC233FA03208","bleName":"","rssi":-79,
      "rawData":"0201060303E1FF0D16E1FFA10264000832A03F23AC"},
     {"timestamp":"2017-09-06T09:37:45Z","type":"iBeacon","mac":"1918FC051F5B","bleName":"",
      "ibeaconUuid":"FDA50693A4E24FB1AFCFC6EB07647825","ibeaconMajor":10002,"ibeaconMinor":5208,"rssi":-74,
      "ibeaconTxPower":-59,"battery":0}]

The `Gateway` record is the gateway's heartbeat (it comes with every upload, tags or not). Device records are
decoded from `rawData` by our decoders; a record the gateway decoded itself (`type` iBeacon with `ibeaconUuid`,
`ibeaconMajor`, `ibeaconMinor`, `ibeaconTxPower`) is enough without it. An empty `rawData` (a scan response
that carried nothing) and records of other devices are counted as ignored. Each bad record is refused by
index and field; the others are kept.
"""

from __future__ import annotations

from typing import Any

from firmware_bridge.ble.decode import Beacon, decode_advert
from tracking.sources import jsonbody, limits
from tracking.sources.formats import (
    Collector,
    FormatContext,
    Outcome,
    as_parsed,
    decoded_ibeacon,
    hex_bytes,
    iso_time,
    mac,
    mqtt_context,
    observe,
)
from tracking.sources.limits import Reason, Rejected
from tracking.sources.routes import Parsed, Route, Wildcards

MAX_RECORDS = 1000
MAX_BODY_BYTES = 512 * 1024
_IB_FIELDS = ("ibeaconUuid", "ibeaconMajor", "ibeaconMinor", "ibeaconTxPower")


def load_body(payload: bytes | str) -> Any:
    return jsonbody.load(payload, "body", MAX_BODY_BYTES)


def parse_upload(body: Any, gateway_id: str, context: FormatContext) -> Outcome:
    """A whole upload; raises `Rejected` only when the body is not an array of records."""
    gateway = limits.gateway_id(gateway_id)
    if not isinstance(body, list):
        raise Rejected("body", Reason.WRONG_TYPE, 'send a JSON array: [{"type":"Gateway",...}, {"mac":...,"rssi":...}]')
    if len(body) > MAX_RECORDS:
        message = f"{len(body)} records in one upload: send at most {MAX_RECORDS} (shorten the upload interval)"
        raise Rejected("body", Reason.TOO_LARGE, message)
    found = Collector(gateway)
    for index, record in enumerate(body):
        try:
            if isinstance(record, dict) and record.get("type") == "Gateway":
                _gateway_record(record)
                found.heartbeat = True
            else:
                found.add(_device(record, gateway, context))
        except Rejected as exc:
            found.refuse(index, exc)
    return found.outcome()


def _gateway_record(record: dict[str, Any]) -> None:
    if record.get("mac") is not None:
        mac(record["mac"], "mac")


def _device(record: Any, gateway: str, context: FormatContext) -> Any:
    if not isinstance(record, dict):
        raise Rejected("record", Reason.WRONG_TYPE, 'each record must be an object with "mac", "rssi" and "rawData"')
    address = mac(record.get("mac"), "mac")
    rssi = limits.RSSI.integer(record.get("rssi"), "rssi")
    at = context.now if record.get("timestamp") is None else iso_time(record["timestamp"], "timestamp", context)
    beacon: Beacon | None = None
    if record.get("rawData") is not None:
        beacon = decode_advert(hex_bytes(record["rawData"], "rawData", allow_empty=True))
    if beacon is None and record.get("type") == "iBeacon" and record.get("ibeaconUuid") is not None:
        return observe(decoded_ibeacon(record, *_IB_FIELDS), address, gateway, rssi, at, context, "ibeaconTxPower")
    return observe(beacon, address, gateway, rssi, at, context, "rawData")


def _mqtt(wildcards: Wildcards, payload: bytes, now: float) -> Parsed:
    """`minew/<gateway id>`: the same array published over MQTT (set the gateway's topic to name our gateway id)."""
    return as_parsed(parse_upload(load_body(payload), wildcards[0], mqtt_context(now)), "minew")


ROUTES = (Route("minew/+", _mqtt, "minew"),)
