"""JSON-lines recordings: one observation per line, or a raw advert a gateway heard.

Observation lines: {"gateway_id", "tag_key", "rssi", "ref_power"?, "battery_mv"?, "temperature_c"?, "at"}.
Raw lines: {"gateway_id", "address", "rssi", "data": "<hex>", "at"}; `at` is epoch seconds or ISO 8601.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation
from tracking.sources.batch import BatchError, EntryError, parse_batch


@dataclass(frozen=True, slots=True)
class Recording:
    observations: list[Observation]
    errors: list[EntryError]


def _time(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise ValueError("at must be epoch seconds or an ISO 8601 time")


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
            gateway_id = str(row["gateway_id"])
            if "data" in row:
                result = parse_batch({"adverts": [row | {"at": None}]}, gateway_id, at, matcher)
                found.extend(result.observations)
                errors.extend(EntryError(number, e.field, e.message) for e in result.rejected)
                continue
            temperature = row.get("temperature_c")
            found.append(
                Observation(
                    gateway_id,
                    str(row["tag_key"]),
                    int(row["rssi"]),
                    _optional_int(row.get("ref_power")),
                    _optional_int(row.get("battery_mv")),
                    float(temperature) if isinstance(temperature, int | float) else None,
                    at,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError, BatchError) as exc:
            errors.append(EntryError(number, "line", f"{type(exc).__name__}: {exc}"))
    found.sort(key=lambda obs: obs.at)
    return Recording(found, errors)
