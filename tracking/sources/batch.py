"""Gateway batches of raw adverts (hex) as JSON, shared by the HTTP endpoint and the raw-advert MQTT topic.

Body: {"adverts": [{"address": "AA:BB:CC:DD:EE:FF", "rssi": -67, "data": "<hex AD structures>",
"at": "<ISO 8601, optional>"}]}. Each bad entry is reported by index; the good ones are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firmware_bridge.ble.decode import decode_advert
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation, observation_from

MAX_ADVERTS = 500


@dataclass(frozen=True, slots=True)
class EntryError:
    index: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    observations: list[Observation]
    rejected: list[EntryError]
    ignored: int  # well-formed adverts that carry no beacon frame we know


class BatchError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_batch(body: Any, gateway_id: str, now: float, matcher: TelemetryMatcher) -> BatchResult:
    if not isinstance(body, dict) or not isinstance(body.get("adverts"), list):
        raise BatchError('send {"adverts": [...]}: a JSON object with a list of adverts', "adverts")
    adverts = body["adverts"]
    if len(adverts) > MAX_ADVERTS:
        raise BatchError(
            f"{len(adverts)} adverts in one request: send at most {MAX_ADVERTS} and split the rest", "adverts"
        )
    observations: list[Observation] = []
    rejected: list[EntryError] = []
    ignored = 0
    for index, entry in enumerate(adverts):
        try:
            obs = _entry(entry, gateway_id, now, matcher)
        except BatchError as exc:
            rejected.append(EntryError(index, exc.field, str(exc)))
            continue
        if obs is None:
            ignored += 1
        else:
            observations.append(obs)
    return BatchResult(observations, rejected, ignored)


def _entry(entry: Any, gateway_id: str, now: float, matcher: TelemetryMatcher) -> Observation | None:
    if not isinstance(entry, dict):
        raise BatchError("each advert must be an object with address, rssi and data", "advert")
    address = entry.get("address")
    if not isinstance(address, str) or not address:
        raise BatchError('address is missing: give the advertiser address, e.g. "AA:BB:CC:DD:EE:FF"', "address")
    rssi = entry.get("rssi")
    if isinstance(rssi, bool) or not isinstance(rssi, int) or not -127 <= rssi <= 20:
        raise BatchError("rssi must be an integer dBm between -127 and 20", "rssi")
    data = entry.get("data")
    try:
        raw = bytes.fromhex(data) if isinstance(data, str) else None
    except ValueError:
        raw = None
    if not raw:
        raise BatchError("data must be the raw advertising bytes as hex, e.g. 0201061aff4c000215...", "data")
    at = now
    if entry.get("at") is not None:
        try:
            moment = datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00"))
        except ValueError:
            raise BatchError("at must be an ISO 8601 time with zone, e.g. 2026-01-05T08:00:00Z", "at") from None
        if moment.tzinfo is None:
            raise BatchError("at needs a time zone (add Z for UTC)", "at")
        at = moment.timestamp()
    beacon = decode_advert(raw)
    if beacon is None:
        return None
    key = matcher.identify(address, beacon)
    if key is None:
        return None  # telemetry from an address whose id frame has not been heard yet
    return observation_from(beacon, key, gateway_id, rssi, at)
