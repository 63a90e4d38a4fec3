"""What every third-party gateway format shares: the parse context, the outcome, MAC/hex/time checks, raw adverts.

A format parser is a pure function `(gateway_id, payload, context) -> Outcome`: no broker, no request, no
database. The outcome carries the observations, each refused record (index, field, reason: counted like
ESPresense's), how many well-formed records carried no beacon we know, and the gateway's own health record
if the payload had one (`heartbeat`: True = alive, False = said offline, None = none in this payload).
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from firmware_bridge.ble.decode import Beacon, decode_advert, decode_ibeacon
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation, observation_from
from tracking.sources import limits
from tracking.sources.batch import EntryError
from tracking.sources.limits import Range, Reason, Rejected, TimeLimits
from tracking.sources.routes import GatewayState, Parsed

log = logging.getLogger(__name__)

_HEX12 = re.compile(r"[0-9A-Fa-f]{12}")
_COLON_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
ISO_MAX = 40
UINT16 = Range(0, 0xFFFF, "")
_IB_TAIL = struct.Struct(">HHb")


@dataclass(frozen=True, slots=True)
class FormatContext:
    """What a parser needs besides the payload: the server's time, the TLM matcher, the time limits."""

    now: float
    matcher: TelemetryMatcher
    times: TimeLimits = field(default_factory=TimeLimits)


@dataclass(frozen=True, slots=True)
class Outcome:
    gateway_id: str
    observations: list[Observation]
    rejected: list[EntryError]
    ignored: int  # well-formed records without a beacon frame we know (phones, sensors, empty scan responses)
    heartbeat: bool | None = None  # the gateway's own health record: True alive, False offline, None absent

    @property
    def usable(self) -> bool:
        """Anything at all came of it: an observation, an ignorable record or a health record."""
        return bool(self.observations or self.ignored or self.heartbeat is not None)


def mac(value: Any, field_name: str) -> str:
    """`AA:BB:CC:DD:EE:FF` or `AABBCCDDEEFF` (gateways write both) to the lower-case colon form."""
    text = limits.text(value, field_name, limits.ADDRESS_MAX, '"AC233FA031FA" or "AC:23:3F:A0:31:FA"')
    if _HEX12.fullmatch(text):
        text = ":".join(text[i : i + 2] for i in range(0, 12, 2))
    elif not _COLON_MAC.fullmatch(text):
        example = "AC233FA031FA or AC:23:3F:A0:31:FA"
        message = f"{field_name} must be a MAC address such as {example}, got {limits.shown(text)}"
        raise Rejected(field_name, Reason.BAD_FORMAT, message)
    return text.lower()


def hex_bytes(value: Any, field_name: str, allow_empty: bool = False) -> bytes:
    """Hex text (any case) to bytes, bounded by the longest legal advertising payload."""
    hint = f"{field_name} must be the advertising bytes as hex, e.g. 0201061aff4c000215..."
    if not isinstance(value, str):
        reason = Reason.MISSING if value is None else Reason.WRONG_TYPE
        raise Rejected(field_name, reason, hint)
    if not value and not allow_empty:
        raise Rejected(field_name, Reason.MISSING, hint)
    if len(value) > limits.DATA_HEX_MAX:
        message = f"{field_name} is {len(value)} hex digits: at most {limits.DATA_HEX_MAX}"
        raise Rejected(field_name, Reason.TOO_LONG, message)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Rejected(field_name, Reason.BAD_FORMAT, hint) from None


def iso_time(value: Any, field_name: str, context: FormatContext) -> float:
    """An ISO 8601 time with zone (`2019-08-01T05:54:25Z`, `...25.260Z`) within the time limits."""
    hint = f"{field_name} must be an ISO 8601 time with zone, e.g. 2026-01-05T08:00:00Z"
    if not isinstance(value, str):
        raise Rejected(field_name, Reason.MISSING if value is None else Reason.WRONG_TYPE, hint)
    if len(value) > ISO_MAX:
        raise Rejected(field_name, Reason.TOO_LONG, f"{hint}; got {len(value)} characters")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise Rejected(field_name, Reason.BAD_FORMAT, f"{field_name} needs a time zone (add Z for UTC)")
        stamp = moment.timestamp()
    except (ValueError, OverflowError, OSError):
        raise Rejected(field_name, Reason.BAD_FORMAT, hint) from None
    return context.times.check(stamp, context.now, field_name)


def unix_time(value: str, field_name: str, context: FormatContext) -> float:
    """Seconds since the epoch as decimal digits (`1635322857`, or `1591609841.895`), within the time limits."""
    whole, _, fraction = value.partition(".")
    if not (value.isascii() and whole.isdigit() and (fraction.isdigit() or not fraction) and len(value) <= 20):
        message = f"{field_name} must be seconds since 1970 (decimal digits), got {limits.shown(value)}"
        raise Rejected(field_name, Reason.BAD_FORMAT, message)
    return context.times.check(float(value), context.now, field_name)


def observe(
    beacon: Beacon | None, address: str, gateway_id: str, rssi: int, at: float, context: FormatContext, data_field: str
) -> Observation | None:
    """A decoded frame heard from `address` to an observation (None: no frame, or TLM from an unknown address)."""
    if beacon is None:
        return None
    key = context.matcher.identify(address, beacon)
    if key is None:
        return None
    obs = observation_from(beacon, key, gateway_id, rssi, at)
    try:
        return limits.check_observation(obs, context.now, context.times)
    except Rejected as exc:  # a value decoded from the advert bytes (measured power, battery, temperature)
        message = f"the advert in {data_field} carries an impossible value: {exc.message}"
        raise Rejected(data_field, exc.reason, message) from None


def observe_raw(
    raw: bytes, address: str, gateway_id: str, rssi: int, at: float, context: FormatContext, data_field: str
) -> Observation | None:
    return observe(decode_advert(raw), address, gateway_id, rssi, at, context, data_field)


def decoded_ibeacon(record: dict[str, Any], uuid: str, major: str, minor: str, power: str) -> Beacon | None:
    """A gateway's own iBeacon decoding (UUID as 32 hex digits, with or without dashes; major; minor; power at
    1 m) rebuilt into Apple's frame, so the tag key is the one our decoder gives the raw advert."""
    text = limits.text(record.get(uuid), uuid, 40, '"fda50693a4e24fb1afcfc6eb07647825"').replace("-", "")
    if len(text) != 32:
        raise Rejected(uuid, Reason.BAD_FORMAT, f"{uuid} must be 32 hex digits, got {limits.shown(text)}")
    uuid_bytes = hex_bytes(text, uuid)
    values = UINT16.integer(record.get(major), major), UINT16.integer(record.get(minor), minor)
    measured = limits.REF_POWER.integer(record.get(power), power)
    return decode_ibeacon(b"\x02\x15" + uuid_bytes + _IB_TAIL.pack(*values, measured))


class Collector:
    """Accumulates one payload's records into an `Outcome`: each record refused on its own, the rest kept."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.observations: list[Observation] = []
        self.rejected: list[EntryError] = []
        self.ignored = 0
        self.heartbeat: bool | None = None

    def add(self, obs: Observation | None) -> None:
        if obs is None:
            self.ignored += 1
        else:
            self.observations.append(obs)

    def refuse(self, index: int, exc: Rejected) -> None:
        self.rejected.append(EntryError(index, exc.field, exc.message, exc.reason))

    def outcome(self) -> Outcome:
        return Outcome(self.gateway_id, self.observations, self.rejected, self.ignored, self.heartbeat)


MQTT_MATCHER = TelemetryMatcher()  # owned by the MQTT routes of these formats: ties TLM frames to tags by address


def mqtt_context(now: float) -> FormatContext:
    return FormatContext(now, MQTT_MATCHER)


def as_parsed(outcome: Outcome, fmt: str) -> Parsed:
    """An outcome in the route table's terms (`tracking.sources.routes`): the observations (an observation also
    marks its gateway heard), else the gateway's health record, else None. A message none of whose records
    could be used raises its first refusal (the consumer counts it); refused records beside good ones are logged."""
    if outcome.rejected and not outcome.usable:
        first = outcome.rejected[0]
        raise Rejected(first.field, first.reason, f"record {first.index}: {first.message}")
    if outcome.rejected:
        first = outcome.rejected[0]
        log.warning("%s message from %r: %d record(s) refused beside good ones, the first (%d) for %s: %s", fmt,
                    outcome.gateway_id[:64], len(outcome.rejected), first.index, first.key, first.message)  # fmt: skip
    if outcome.observations:
        return outcome.observations
    if outcome.heartbeat is not None:
        return GatewayState(outcome.gateway_id, outcome.heartbeat)
    return None
