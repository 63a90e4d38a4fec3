"""ESPresense MQTT messages to observations: `espresense/devices/<device-id>/<room>` JSON and room status.

The room (node) name in the topic is our gateway id. ESPresense ids such as
`iBeacon:<uuid>-<major>-<minor>` map onto our iBeacon tag key, so a tag is one tag whichever way it is heard.
"""

from __future__ import annotations

from typing import Any

from tracking.observation import Observation
from tracking.sources import jsonbody, limits
from tracking.sources.limits import Reason, Rejected
from tracking.sources.routes import GatewayState, Route, Wildcards

MAX_MESSAGE_BYTES = 4096  # an ESPresense message is ~200 bytes
_ids: dict[str, str] = {}


def tag_key_from_espresense(device_id: str) -> str:
    key = _ids.get(device_id)
    if key is not None:
        return key
    kind, _, rest = device_id.partition(":")
    if kind.lower() == "ibeacon" and rest.count("-") >= 6:
        key = _ibeacon_key(rest) or f"esp-{device_id.lower()}"
    elif kind.lower() in ("eddy", "eddystone") and "-" in rest:
        key = _eddystone_key(rest) or f"esp-{device_id.lower()}"
    else:
        key = f"esp-{device_id.lower()}"
    if len(_ids) > 200_000:
        _ids.clear()
    _ids[device_id] = key
    return key


def _ibeacon_key(rest: str) -> str | None:
    """`<uuid with dashes>-<major>-<minor>` to our iBeacon key; None (kept as its own tag) when it is not one."""
    uuid, major, minor = rest.rsplit("-", 2)
    uuid = uuid.replace("-", "").lower()
    if len(uuid) != 32 or not all(c in "0123456789abcdef" for c in uuid):
        return None
    if not (major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        return None
    if int(major) > 0xFFFF or int(minor) > 0xFFFF:
        return None
    return f"ib-{uuid}-{int(major)}-{int(minor)}"


def _eddystone_key(rest: str) -> str | None:
    """ESPresense names an Eddystone-UID beacon `eddy:<namespace hex>-<instance hex>`. Its firmware prints
    the namespace's fifth byte twice (22 hex digits instead of 20: bytes 2,3,4,5,6,6,7,... of the frame, read
    in ESPresense's BleFingerprint.cpp), so both forms map onto our decoder's `eu-<namespace>-<instance>`."""
    namespace, _, instance = rest.lower().partition("-")
    if len(namespace) == 22 and namespace[8:10] == namespace[10:12]:
        namespace = namespace[:10] + namespace[12:]
    if len(namespace) != 20 or len(instance) != 12:
        return None
    try:
        bytes.fromhex(namespace + instance)
    except ValueError:
        return None
    return f"eu-{namespace}-{instance}"


def parse_device_message(gateway_id: str, payload: bytes | str, now: float) -> Observation:
    """One `espresense/devices/<id>/<room>` message; raises `Rejected` naming the field at fault."""
    data: Any = jsonbody.load(payload, "payload", MAX_MESSAGE_BYTES)
    if type(data) is not dict:
        raise Rejected("payload", Reason.WRONG_TYPE, "payload must be a JSON object with id and rssi")
    room = limits.gateway_id(gateway_id, "room")
    device_id = limits.text(data.get("id"), "id", limits.ID_MAX, '"iBeacon:<uuid>-<major>-<minor>"')
    rssi = limits.RSSI.integer(data.get("rssi"), "rssi")
    ref = limits.REF_POWER.optional(data.get("rssi@1m"), "rssi@1m")
    battery = limits.BATTERY_MV.optional(data.get("mV"), "mV")
    limits.BATTERY_PERCENT.optional(data.get("batt"), "batt")
    return Observation(room, tag_key_from_espresense(device_id), rssi, ref, battery, None, now)


def parse_status(payload: bytes | str) -> bool:
    """Room status payload: "online" or "offline" (LWT)."""
    raw = payload if isinstance(payload, bytes) else payload.encode("utf-8", "replace")
    text = raw[:64].decode(errors="replace").strip().lower()
    if text not in ("online", "offline"):
        raise Rejected("status", Reason.BAD_FORMAT, f"status must be online or offline, got {limits.shown(text[:20])}")
    return text == "online"


def device_route(wildcards: Wildcards, payload: bytes, now: float) -> Observation:
    """`espresense/devices/<device-id>/<room>`."""
    return parse_device_message(wildcards[1], payload, now)


def status_route(wildcards: Wildcards, payload: bytes, _now: float) -> GatewayState:
    """`espresense/rooms/<room>/status`."""
    return GatewayState(wildcards[0], parse_status(payload))


ROUTES = (
    Route("espresense/devices/+/+", device_route, "espresense", tag_wildcard=0, tag_key=tag_key_from_espresense),
    Route("espresense/rooms/+/status", status_route, "espresense-status", broadcast=True),
)
