"""JSON-lines recordings: one observation per line, or a raw advert a gateway heard.

Observation lines: {"gateway_id", "tag_key", "rssi", "ref_power"?, "battery_mv"?, "temperature_c"?, "at"}.
Raw lines: {"gateway_id", "address", "rssi", "data": "<hex>", "at"}; `at` is epoch seconds or ISO 8601.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation
from tracking.sources import limits
from tracking.sources.batch import EntryError, parse_batch
from tracking.sources.limits import Reason, Rejected, TimeLimits

REPLAY_TIMES = TimeLimits(max_age_s=float("inf"))  # a recording is old by nature: only its numbers are checked


@dataclass(frozen=True, slots=True)
class Recording:
    observations: list[Observation]
    errors: list[EntryError]


def _time(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise ValueError("at must be epoch seconds or an ISO 8601 time")


def read_recording(lines: Iterable[str]) -> Recording:
    matcher = TelemetryMatcher()
    found: list[Observation] = []
    errors: list[EntryError] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            at = _time(row.get("at"))
            gateway_id = limits.gateway_id(row.get("gateway_id"))
            if "data" in row:
                result = parse_batch({"adverts": [row | {"at": None}]}, gateway_id, at, matcher, REPLAY_TIMES)
                found.extend(result.observations)
                errors.extend(EntryError(number, e.field, e.message, e.reason) for e in result.rejected)
                continue
            temperature = row.get("temperature_c")
            obs = Observation(
                gateway_id,
                limits.text(row.get("tag_key"), "tag_key", limits.ID_MAX + 4, '"ib-<uuid>-1-2"'),
                limits.RSSI.integer(row.get("rssi"), "rssi"),
                limits.REF_POWER.optional(row.get("ref_power"), "ref_power"),
                limits.BATTERY_MV.optional(row.get("battery_mv"), "battery_mv"),
                None if temperature is None else limits.TEMPERATURE_C.number(temperature, "temperature_c"),
                at,
            )
            found.append(limits.check_observation(obs, at, REPLAY_TIMES))
        except Rejected as exc:
            errors.append(EntryError(number, exc.field, exc.message, exc.reason))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            errors.append(EntryError(number, "line", f"{type(exc).__name__}: {exc}", Reason.BAD_FORMAT))
    found.sort(key=lambda obs: obs.at)
    return Recording(found, errors)
