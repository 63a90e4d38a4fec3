"""Physical limits of what BLE sources report, declared once: the HTTP batch, MQTT and the bleak scanner check here.

A value outside its limits raises `Rejected` naming the field, a reason code (counted per ingester as
`field:reason`) and a sentence with the fix. Numbers must be finite JSON numbers (not booleans, not
strings); ids and addresses are bounded strings without control characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tracking.observation import Observation


class Reason(StrEnum):
    MISSING = "missing"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    TOO_LONG = "too_long"
    CONTROL_CHARACTERS = "control_characters"
    BAD_FORMAT = "bad_format"
    IN_FUTURE = "in_future"
    TOO_OLD = "too_old"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"


class Rejected(ValueError):
    """One input refused; `key` (`field:reason`) is what ingesters count."""

    def __init__(self, field: str, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.field, self.reason, self.message = field, reason, message

    @property
    def key(self) -> str:
        return f"{self.field}:{self.reason.value}"


def shown(value: Any) -> str:
    """A value quoted in a message, cut short (a 100k-character value is not echoed back)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    unit: str

    def number(self, value: Any, field: str) -> float:
        if (type(value) is int or type(value) is float) and self.low <= value <= self.high:  # usual; NaN fails here
            return float(value)
        if value is None:
            raise Rejected(field, Reason.MISSING, f"{field} is missing: give a number of {self.unit} ({self._span()})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            message = f"{field} must be a JSON number of {self.unit} ({self._span()}), got {shown(value)}"
            raise Rejected(field, Reason.WRONG_TYPE, message)
        if isinstance(value, float) and not math.isfinite(value):
            raise Rejected(field, Reason.NOT_FINITE, f"{field} must be a finite number ({self._span()}), got {value}")
        if not self.low <= value <= self.high:
            raise Rejected(field, Reason.OUT_OF_RANGE, f"{field} must be {self._span()}, got {shown(value)}")
        return float(value)

    def integer(self, value: Any, field: str) -> int:
        if type(value) is int and self.low <= value <= self.high:  # the usual case, without the checks' cost
            return value
        return round(self.number(value, field))

    def optional(self, value: Any, field: str) -> int | None:
        return None if value is None else self.integer(value, field)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def _span(self) -> str:
        return f"between {self.low:g} and {self.high:g} {self.unit}"


# Bluetooth Core spec: an RSSI and a TX power level are int8 dBm in -127..+20.
RSSI = Range(-127, 20, "dBm")
REF_POWER = Range(-127, 20, "dBm")  # expected RSSI at 1 m (ESPresense `rssi@1m`, iBeacon measured power)
BATTERY_MV = Range(0, 10_000, "mV")  # coin cells ~3000 mV, 2xAA 3000, Li-SOCl2 3600, 4xAA 6000
BATTERY_PERCENT = Range(0, 100, "%")  # ESPresense `batt`
TEMPERATURE_C = Range(-60, 150, "°C")

ID_MAX = 96  # an ESPresense device id; our tag key is "esp-" + id and must fit 100 characters
GATEWAY_ID_MAX = 64
ADDRESS_MAX = 64
DATA_HEX_MAX = 2 * 255  # an extended advertising payload of 255 bytes, as hex
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def text(value: Any, field: str, max_length: int, example: str) -> str:
    if type(value) is str and 0 < len(value) <= max_length and value.isprintable():  # the usual case, fast
        return value
    if value is None or value == "":
        raise Rejected(field, Reason.MISSING, f"{field} is missing: give it as a string, e.g. {example}")
    if not isinstance(value, str):
        raise Rejected(field, Reason.WRONG_TYPE, f"{field} must be a string, e.g. {example}; got {shown(value)}")
    if len(value) > max_length:
        raise Rejected(field, Reason.TOO_LONG, f"{field} is {len(value)} characters long: at most {max_length}")
    if _CONTROL.search(value):
        message = f"{field} contains control characters (NUL, newline...): remove them"
        raise Rejected(field, Reason.CONTROL_CHARACTERS, message)
    return value


def gateway_id(value: Any, field: str = "gateway_id") -> str:
    return text(value, field, GATEWAY_ID_MAX, '"icu-1"')


@dataclass(frozen=True, slots=True)
class TimeLimits:
    future_tolerance_s: float = 5.0  # gateway clocks drift; more than this ahead of ours is refused
    max_age_s: float = 24 * 3600.0  # older than this is not a sighting worth placing a tag with

    def check(self, at: float, now: float, field: str = "at") -> float:
        if not math.isfinite(at):
            raise Rejected(field, Reason.NOT_FINITE, f"{field} is not a finite time")
        if at > now + self.future_tolerance_s:
            raise Rejected(
                field, Reason.IN_FUTURE,
                f"{field} is {at - now:.0f} s ahead of the server's clock (at most {self.future_tolerance_s:g} s): "
                "fix the gateway's clock (NTP) or leave `at` out",
            )  # fmt: skip
        if at < now - self.max_age_s:
            message = f"{field} is {now - at:.0f} s old (at most {self.max_age_s:g} s): drop old sightings"
            raise Rejected(field, Reason.TOO_OLD, message)
        return at


def check_observation(obs: Observation, now: float, times: TimeLimits) -> Observation:
    """The last guard before the engine, whatever the source: every number within its physical range."""
    rssi, ref_power, gateway, tag_key, at = obs.rssi, obs.ref_power, obs.gateway_id, obs.tag_key, obs.at
    if (  # the usual sighting (an id frame: integer RSSI and power, no telemetry), judged in one expression
        type(rssi) is int and RSSI.low <= rssi <= RSSI.high
        and (ref_power is None or (type(ref_power) is int and REF_POWER.low <= ref_power <= REF_POWER.high))
        and obs.battery_mv is None and obs.temperature_c is None
        and type(gateway) is str and 0 < len(gateway) <= GATEWAY_ID_MAX and gateway.isprintable()
        and type(tag_key) is str and 0 < len(tag_key) <= ID_MAX + 4 and tag_key.isprintable()
        and now - times.max_age_s <= at <= now + times.future_tolerance_s
    ):  # fmt: skip
        return obs
    RSSI.number(obs.rssi, "rssi")
    if obs.ref_power is not None:
        REF_POWER.number(obs.ref_power, "ref_power")
    if obs.battery_mv is not None:
        BATTERY_MV.number(obs.battery_mv, "battery_mv")
    if obs.temperature_c is not None:
        TEMPERATURE_C.number(obs.temperature_c, "temperature_c")
    text(obs.gateway_id, "gateway_id", GATEWAY_ID_MAX, '"icu-1"')
    text(obs.tag_key, "tag_key", ID_MAX + 4, '"ib-<uuid>-1-2"')
    times.check(obs.at, now)
    return obs
