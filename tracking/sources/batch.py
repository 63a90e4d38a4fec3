"""Gateway batches of raw adverts (hex) as JSON, shared by the HTTP endpoint and the raw-advert MQTT topic.

Body: {"adverts": [{"address": "AA:BB:CC:DD:EE:FF", "rssi": -67, "data": "<hex AD structures>",
"at": "<ISO 8601, optional>"}]}. Each bad entry is reported by index and field; the good ones are kept.
Every value is checked against `tracking.sources.limits`, the same limits MQTT and the scanner use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firmware_bridge.ble.decode import decode_advert
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation, observation_from
from tracking.sources import jsonbody, limits
from tracking.sources.limits import Reason, Rejected, TimeLimits

MAX_ADVERTS = 500
MAX_BODY_BYTES = 512 * 1024  # 500 adverts of the longest legal payload fit with room to spare
AT_MAX = 40


@dataclass(frozen=True, slots=True)
class EntryError:
    index: int
    field: str
    message: str
    reason: Reason

    @property
    def key(self) -> str:
        return f"{self.field}:{self.reason.value}"


@dataclass(frozen=True, slots=True)
class BatchResult:
    observations: list[Observation]
    rejected: list[EntryError]
    ignored: int  # well-formed adverts that carry no beacon frame we know


def load_body(payload: bytes | str) -> Any:
    """The batch's JSON, bounded in size and depth; raises `Rejected` naming `body`."""
    return jsonbody.load(payload, "body", MAX_BODY_BYTES)


def parse_batch(
    body: Any, gateway_id: str, now: float, matcher: TelemetryMatcher, times: TimeLimits | None = None
) -> BatchResult:
    if not isinstance(body, dict) or not isinstance(body.get("adverts"), list):
        raise Rejected("adverts", Reason.WRONG_TYPE, 'send {"adverts": [...]}: a JSON object with a list of adverts')
    adverts = body["adverts"]
    if len(adverts) > MAX_ADVERTS:
        raise Rejected(
            "adverts", Reason.TOO_LARGE,
            f"{len(adverts)} adverts in one request: send at most {MAX_ADVERTS} and split the rest",
        )  # fmt: skip
    times = times or TimeLimits()
    observations: list[Observation] = []
    rejected: list[EntryError] = []
    ignored = 0
    for index, entry in enumerate(adverts):
        try:
            obs = _entry(entry, gateway_id, now, matcher, times)
        except Rejected as exc:
            rejected.append(EntryError(index, exc.field, exc.message, exc.reason))
            continue
        if obs is None:
            ignored += 1
        else:
            observations.append(obs)
    return BatchResult(observations, rejected, ignored)


def _entry(entry: Any, gateway_id: str, now: float, matcher: TelemetryMatcher, times: TimeLimits) -> Observation | None:
    if type(entry) is dict:  # the usual advert, judged in one expression: the checks below pass it unchanged
        address, rssi, data = entry.get("address"), entry.get("rssi"), entry.get("data")
        if (
            type(address) is str and 0 < len(address) <= limits.ADDRESS_MAX and address.isprintable()
            and type(rssi) is int and limits.RSSI.low <= rssi <= limits.RSSI.high
            and type(data) is str and 0 < len(data) <= limits.DATA_HEX_MAX and entry.get("at") is None
        ):  # fmt: skip
            try:
                raw = bytes.fromhex(data)
            except ValueError:
                pass  # _data names it below
            else:
                return _observed(raw, address, rssi, now, gateway_id, now, matcher, times)
    if not isinstance(entry, dict):
        raise Rejected("advert", Reason.WRONG_TYPE, "each advert must be an object with address, rssi and data")
    address = limits.text(entry.get("address"), "address", limits.ADDRESS_MAX, '"AA:BB:CC:DD:EE:FF"')
    rssi = limits.RSSI.integer(entry.get("rssi"), "rssi")
    raw = _data(entry.get("data"))
    at = _at(entry.get("at"), now, times)
    return _observed(raw, address, rssi, at, gateway_id, now, matcher, times)


def _observed(
    raw: bytes, address: str, rssi: int, at: float, gateway_id: str, now: float, matcher: TelemetryMatcher,
    times: TimeLimits,
) -> Observation | None:  # fmt: skip
    beacon = decode_advert(raw)
    if beacon is None:
        return None
    key = matcher.identify(address, beacon)
    if key is None:
        return None  # telemetry from an address whose id frame has not been heard yet
    obs = observation_from(beacon, key, gateway_id, rssi, at)
    try:
        return limits.check_observation(obs, now, times)
    except Rejected as exc:  # a value decoded from the advert bytes (measured power, battery, temperature)
        raise Rejected("data", exc.reason, f"the advert in data carries an impossible value: {exc.message}") from None


def _data(data: Any) -> bytes:
    hint = "data must be the raw advertising bytes as hex, e.g. 0201061aff4c000215..."
    if not isinstance(data, str) or not data:
        raise Rejected("data", Reason.MISSING if data in (None, "") else Reason.WRONG_TYPE, hint)
    if len(data) > limits.DATA_HEX_MAX:
        raise Rejected("data", Reason.TOO_LONG, f"data is {len(data)} hex digits: at most {limits.DATA_HEX_MAX}")
    try:
        return bytes.fromhex(data)
    except ValueError:
        raise Rejected("data", Reason.BAD_FORMAT, hint) from None


def _at(value: Any, now: float, times: TimeLimits) -> float:
    if value is None:
        return now
    hint = "at must be an ISO 8601 time with zone, e.g. 2026-01-05T08:00:00Z"
    if not isinstance(value, str):
        raise Rejected("at", Reason.WRONG_TYPE, f"{hint}; got {limits.shown(value)}")
    if len(value) > AT_MAX:
        raise Rejected("at", Reason.TOO_LONG, f"{hint}; got {len(value)} characters")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Rejected("at", Reason.BAD_FORMAT, hint) from None
    if moment.tzinfo is None:
        raise Rejected("at", Reason.BAD_FORMAT, "at needs a time zone (add Z for UTC)")
    try:
        stamp = moment.timestamp()
    except (OverflowError, ValueError, OSError):
        raise Rejected("at", Reason.OUT_OF_RANGE, f"{hint}; {limits.shown(value)} is out of range") from None
    return times.check(stamp, now)
