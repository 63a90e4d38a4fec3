"""ESPresense MQTT messages to observations: `espresense/devices/<device-id>/<room>` JSON and room status.

The room (node) name in the topic is our gateway id. ESPresense ids such as
`iBeacon:<uuid>-<major>-<minor>` map onto our iBeacon tag key, so a tag is one tag whichever way it is heard.
"""

from __future__ import annotations

import json
from math import isfinite
from typing import Any

from tracking.observation import Observation

_ids: dict[str, str] = {}
_json = json.JSONDecoder().decode  # MQTT JSON payloads are UTF-8: skip json.loads' encoding sniffing


class PayloadError(ValueError):
    """A message we cannot use; counted and skipped by the consumer."""


def tag_key_from_espresense(device_id: str) -> str:
    key = _ids.get(device_id)
    if key is not None:
        return key
    kind, _, rest = device_id.partition(":")
    if kind.lower() == "ibeacon" and rest.count("-") >= 6:
        uuid, major, minor = rest.rsplit("-", 2)
        key = f"ib-{uuid.replace('-', '').lower()}-{int(major)}-{int(minor)}"
    elif kind.lower() in ("eddy", "eddystone") and "-" in rest:
        key = _eddystone_key(rest) or f"esp-{device_id.lower()}"
    else:
        key = f"esp-{device_id.lower()}"
    if len(_ids) > 200_000:
        _ids.clear()
    _ids[device_id] = key
    return key


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
    try:
        data: Any = _json(payload.decode() if isinstance(payload, bytes) else payload)
    except ValueError:  # includes UnicodeDecodeError
        raise PayloadError("payload is not UTF-8 JSON") from None
    if type(data) is not dict:
        raise PayloadError("payload is not a JSON object")
    rssi: Any = data.get("rssi")
    device_id: Any = data.get("id")
    if type(rssi) not in (int, float) or type(device_id) is not str or not isfinite(rssi):
        raise PayloadError("payload needs a finite numeric rssi and a string id")
    ref: Any = data.get("rssi@1m")
    battery: Any = data.get("mV")
    return Observation(
        gateway_id,
        tag_key_from_espresense(device_id),
        int(rssi),
        int(ref) if type(ref) in (int, float) and isfinite(ref) else None,  # NaN/Infinity parse as JSON floats
        int(battery) if type(battery) in (int, float) and isfinite(battery) else None,
        None,
        now,
    )


def parse_status(payload: bytes | str) -> bool:
    """Room status payload: "online" or "offline" (LWT)."""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    text = text.strip().lower()
    if text not in ("online", "offline"):
        raise PayloadError(f"status must be online or offline, got {text[:20]!r}")
    return text == "online"
