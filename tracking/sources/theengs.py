"""OpenMQTTGateway and Theengs Gateway over MQTT: `home/<gateway>/BTtoMQTT/<MAC>` JSON, `LWT` and `SYStoMQTT`.

One message is one advert heard by the gateway named in the topic (that segment is our gateway id):

    home/icu-1/BTtoMQTT/AC233FA031FA  {"id":"AC:23:3F:A0:31:FA","mac_type":0,"rssi":-67,
                                       "manufacturerdata":"4c000215fda50693a4e24fb1afcfc6eb07647825271b4cb9c5"}

Raw `manufacturerdata` (company id first, little-endian, as the gateway prints it) and `servicedata` with
`servicedatauuid` are decoded by our own decoders. A message carrying only Theengs' decoded iBeacon fields
(`model_id` IBEACON, `uuid`, `major`, `minor`, `txpower`) is enough too: it is rebuilt into the frame it
came from. With `presenceUseBeaconUuid` the gateway puts the UUID in `id` and the address in `mac`.
Health: `home/<gateway>/LWT` is `online`/`offline` (the broker publishes `offline` when the gateway drops);
`home/<gateway>/SYStoMQTT` is the gateway's periodic system record, read as "alive".
"""

from __future__ import annotations

from typing import Any

from firmware_bridge.ble.decode import Beacon, decode_eddystone, decode_manufacturer
from tracking.sources import jsonbody, limits
from tracking.sources.espresense import parse_status
from tracking.sources.formats import (
    FormatContext,
    Outcome,
    as_parsed,
    decoded_ibeacon,
    hex_bytes,
    mac,
    mqtt_context,
    observe,
)
from tracking.sources.limits import Reason, Rejected
from tracking.sources.routes import Parsed, Route, Wildcards

MAX_MESSAGE_BYTES = 4096  # a decoded message is ~300 bytes, one with raw data ~400
MAX_SYSTEM_BYTES = 8192
EDDYSTONE_UUIDS = frozenset({"0xfeaa", "feaa", "0000feaa-0000-1000-8000-00805f9b34fb"})


def parse_bt_message(gateway_id: str, payload: bytes | str, context: FormatContext) -> Outcome:
    """One `BTtoMQTT/<MAC>` message; raises `Rejected` naming the field at fault."""
    gateway = limits.gateway_id(gateway_id, "gateway")
    data: Any = jsonbody.load(payload, "payload", MAX_MESSAGE_BYTES)
    if type(data) is not dict:
        raise Rejected("payload", Reason.WRONG_TYPE, 'payload must be a JSON object with "id" and "rssi"')
    rssi = limits.RSSI.integer(data.get("rssi"), "rssi")
    address = mac(data["mac"], "mac") if data.get("mac") is not None else mac(data.get("id"), "id")
    beacon, field_name = _frame(data)
    obs = observe(beacon, address, gateway, rssi, context.now, context, field_name)
    return Outcome(gateway, [obs] if obs else [], [], 0 if obs else 1)


def _frame(data: dict[str, Any]) -> tuple[Beacon | None, str]:
    """The beacon frame in the raw fields, else in Theengs' decoded iBeacon fields; and the field it came from."""
    found: Beacon | None = None
    if data.get("manufacturerdata") is not None:
        raw = hex_bytes(data["manufacturerdata"], "manufacturerdata", allow_empty=True)
        if len(raw) >= 2:
            found = decode_manufacturer(raw[0] | raw[1] << 8, raw[2:])
        if found is not None:
            return found, "manufacturerdata"
    if data.get("servicedata") is not None:
        raw = hex_bytes(data["servicedata"], "servicedata", allow_empty=True)
        uuid = data.get("servicedatauuid")
        if isinstance(uuid, str) and uuid.lower() in EDDYSTONE_UUIDS:
            found = decode_eddystone(raw)
        if found is not None:
            return found, "servicedata"
    if data.get("model_id") == "IBEACON":
        return decoded_ibeacon(data, "uuid", "major", "minor", "txpower"), "txpower"
    return None, "manufacturerdata"


def parse_lwt(gateway_id: str, payload: bytes | str) -> Outcome:
    """`home/<gateway>/LWT`: `online` or `offline`."""
    gateway = limits.gateway_id(gateway_id, "gateway")
    return Outcome(gateway, [], [], 0, parse_status(payload))


def parse_system(gateway_id: str, payload: bytes | str) -> Outcome:
    """`home/<gateway>/SYStoMQTT`: the gateway's system record (uptime, free memory...), a sign of life."""
    gateway = limits.gateway_id(gateway_id, "gateway")
    data = jsonbody.load(payload, "payload", MAX_SYSTEM_BYTES)
    if type(data) is not dict:
        raise Rejected("payload", Reason.WRONG_TYPE, 'a SYStoMQTT payload is a JSON object such as {"uptime": 7355}')
    return Outcome(gateway, [], [], 0, True)


def _sighting(wildcards: Wildcards, payload: bytes, now: float) -> Parsed:
    return as_parsed(parse_bt_message(wildcards[0], payload, mqtt_context(now)), "theengs")


def _lwt(wildcards: Wildcards, payload: bytes, _now: float) -> Parsed:
    return as_parsed(parse_lwt(wildcards[0], payload), "theengs")


def _system(wildcards: Wildcards, payload: bytes, _now: float) -> Parsed:
    return as_parsed(parse_system(wildcards[0], payload), "theengs")


# The route table's registrations (tracking/sources/routes.py). The topic's MAC is the advertiser's current
# address, not the tag (iBeacons and phones rotate it), so the tag comes from the payload (tag_wildcard None).
ROUTES = (
    Route("home/+/BTtoMQTT/+", _sighting, "theengs"),
    Route("home/+/LWT", _lwt, "theengs-status", broadcast=True),
    Route("home/+/SYStoMQTT", _system, "theengs-system", broadcast=True),
)
