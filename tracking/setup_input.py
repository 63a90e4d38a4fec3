"""Zone and gateway input, checked the same way whether it comes from the setup pages or a `tracking load` file.

Parsing never stops at the first problem: every bad field is collected with a message that names the
field and the fix, so a form can show them all and keep what the person typed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext

from core.errors import DomainError
from tracking.floorplan import ZONE_KINDS

MAX_COORDINATE_M = 10_000.0
OFFSET_RANGE_DB = (-20.0, 20.0)
MAX_RADIUS_M = 1_000.0
_KEY = re.compile(r"^[^\s/?#]+$")  # codes and ids end up in URLs and topics: no spaces or slashes
_POLYGON_HINT = lazy_gettext("write x,y pairs in metres separated by spaces, e.g. 0,0 8,0 8,6 0,6")


class SetupInvalid(DomainError):
    """One or more fields are wrong; `errors` maps each field to what to fix."""

    code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        errors = {name: str(message) for name, message in errors.items()}  # marked text, in this request's language
        first = next(iter(errors))
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()), field=first)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ZoneInput:
    code: str
    name: str
    building: str
    floor: str
    kind: str
    points: tuple[tuple[float, float], ...]
    max_radius_m: float | None
    unit: str
    fod_limit_min: int | None = None  # must-return (FOD) zone: minutes a tool in custody may stay


@dataclass(frozen=True, slots=True)
class GatewayInput:
    gateway_id: str
    zone: str  # zone code
    x: float
    y: float
    offset_db: float


class _Collector:
    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def bad(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def check(self) -> None:
        if self.errors:
            raise SetupInvalid(self.errors)


def _key(found: _Collector, name: str, raw: object, limit: int, example: str) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        found.bad(name, lazy_gettext("%(name)s is required, e.g. %(example)s", name=name, example=example))
    elif len(value) > limit or not _KEY.match(value):
        found.bad(name, lazy_gettext("%(name)s must be at most %(limit)s characters without spaces or slashes, e.g. "
                                     "%(example)s", name=name, limit=limit, example=example))  # fmt: skip
    return value


def _text(found: _Collector, name: str, raw: object, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        found.bad(name, lazy_gettext("%(name)s must be text", name=name))
        return ""
    value = str(raw).strip()
    if len(value) > limit:
        found.bad(name, lazy_gettext("%(name)s is %(length)s characters long: shorten it to %(limit)s at most",
                                     name=name, length=len(value), limit=limit))  # fmt: skip
    return value


def _number(found: _Collector, name: str, raw: object, what: str, example: str) -> float | None:
    """A finite number from a form string or a JSON number; None (and an error) when it is not one."""
    if isinstance(raw, bool):
        value = math.nan
    elif isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and raw.strip():
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
    else:
        found.bad(name, lazy_gettext("%(name)s is required: %(what)s, e.g. %(example)s", name=name, what=what,
                                     example=example))  # fmt: skip
        return None
    if not math.isfinite(value):
        found.bad(name, lazy_gettext("%(name)s must be a number: %(what)s, e.g. %(example)s", name=name, what=what,
                                     example=example))  # fmt: skip
        return None
    return value


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_points(text: str) -> tuple[tuple[float, float], ...]:
    """'0,0 8,0 8,6' (spaces around commas allowed) -> points; ValueError names the bad point and the fix."""
    pairs = re.sub(r"\s*,\s*", ",", text.strip()).split()
    points = []
    for number, pair in enumerate(pairs, start=1):
        x, comma, y = pair.partition(",")
        try:
            if not comma:
                raise ValueError(pair)
            point = (float(x), float(y))
        except ValueError:
            raise ValueError(lazy_gettext("point %(number)s (%(pair)s) is not x,y: %(hint)s", number=number,
                                          pair=repr(pair), hint=_POLYGON_HINT)) from None  # fmt: skip
        points.append(point)
    return tuple(points)


def _area(points: tuple[tuple[float, float], ...]) -> float:
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice) / 2


def _polygon(found: _Collector, raw: object) -> tuple[tuple[float, float], ...]:
    points: tuple[tuple[float, float], ...]
    if isinstance(raw, str):
        try:
            points = parse_points(raw)
        except ValueError as exc:
            found.bad("polygon", str(exc))
            return ()
    elif isinstance(raw, list | tuple):
        try:
            points = tuple((_coordinate(x), _coordinate(y)) for x, y in raw)
        except (TypeError, ValueError):
            found.bad("polygon", lazy_gettext("each polygon point must be [x, y] numbers in metres"))
            return ()
    else:
        found.bad("polygon", lazy_gettext("polygon is required: %(hint)s", hint=_POLYGON_HINT))
        return ()
    if len(points) < 3:
        found.bad("polygon", lazy_gettext("polygon has %(count)s point(s) but needs at least 3: %(hint)s",
                                          count=len(points), hint=_POLYGON_HINT))  # fmt: skip
    elif any(not math.isfinite(v) or abs(v) > MAX_COORDINATE_M for p in points for v in p):
        found.bad("polygon", lazy_gettext("polygon coordinates are metres on the floor plan, within ±%(limit)s",
                                          limit=format(MAX_COORDINATE_M, "g")))  # fmt: skip
    elif _area(points) < 0.01:
        found.bad("polygon", lazy_gettext("the points lie on one line: a zone needs an area, e.g. 0,0 8,0 8,6 0,6"))
    return points


def _coordinate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    return float(value)


def zone_input(data: Mapping[str, Any]) -> ZoneInput:
    """A zone from form fields (strings) or a load-file row (JSON values); raises SetupInvalid."""
    found = _Collector()
    code = _key(found, "code", data.get("code"), 32, "ICU-1")
    name = _text(found, "name", data.get("name"), 100) or code
    kind_raw = data.get("kind")
    kind = kind_raw.strip() if isinstance(kind_raw, str) and kind_raw.strip() else "room"
    if kind not in ZONE_KINDS:
        found.bad("kind", lazy_gettext("kind %(kind)s is not known: use one of %(kinds)s", kind=repr(kind),
                                       kinds=", ".join(ZONE_KINDS)))  # fmt: skip
    points = _polygon(found, data.get("polygon"))
    radius: float | None = None
    if not _blank(data.get("max_radius_m")):
        what = lazy_gettext("the zone's radius in metres (leave empty for no limit)")
        radius = _number(found, "max_radius_m", data.get("max_radius_m"), what, "9")
        if radius is not None and not 0 < radius <= MAX_RADIUS_M:
            found.bad("max_radius_m", lazy_gettext("max_radius_m must be more than 0 and at most %(limit)s m, or "
                                                   "empty", limit=format(MAX_RADIUS_M, "g")))  # fmt: skip
    building = _text(found, "building", data.get("building"), 64)
    floor = _text(found, "floor", data.get("floor"), 32)
    unit = _text(found, "unit", data.get("unit"), 64)
    fod = _fod_limit(found, data.get("fod_limit_min"))
    found.check()
    return ZoneInput(code, name, building, floor, kind, points, radius, unit, fod)


MAX_FOD_LIMIT_MIN = 7 * 24 * 60


def _fod_limit(found: _Collector, raw: object) -> int | None:
    if _blank(raw):
        return None
    what = lazy_gettext("minutes a tool may stay in this must-return zone (leave empty if tools may stay)")
    minutes = _number(found, "fod_limit_min", raw, what, "30")
    if minutes is None:
        return None
    if minutes != int(minutes) or not 1 <= minutes <= MAX_FOD_LIMIT_MIN:
        found.bad("fod_limit_min", lazy_gettext("fod_limit_min must be whole minutes from 1 to %(limit)s, or empty",
                                                limit=MAX_FOD_LIMIT_MIN))  # fmt: skip
        return None
    return int(minutes)


def gateway_input(data: Mapping[str, Any]) -> GatewayInput:
    """A gateway from form fields or a load-file row; raises SetupInvalid."""
    found = _Collector()
    gateway_id = _key(found, "gateway_id", data.get("gateway_id"), 64, "gw-icu-1")
    zone = data.get("zone")
    zone_code = zone.strip() if isinstance(zone, str) else ""
    if not zone_code:
        found.bad("zone", lazy_gettext("zone is required: the code of the zone the gateway is in, e.g. ICU-1"))
    coordinates = []
    for axis in ("x", "y"):
        what = lazy_gettext("the gateway's %(axis)s position in metres on the floor plan", axis=axis)
        value = _number(found, axis, data.get(axis), what, "4")
        if value is not None and abs(value) > MAX_COORDINATE_M:
            found.bad(axis, lazy_gettext("%(axis)s is metres on the floor plan, within ±%(limit)s", axis=axis,
                                         limit=format(MAX_COORDINATE_M, "g")))  # fmt: skip
        coordinates.append(value or 0.0)
    offset = 0.0
    if not _blank(data.get("offset_db")):
        low, high = OFFSET_RANGE_DB
        what = lazy_gettext("dB added to every RSSI it reports, %(low)s to %(high)s", low=format(low, "g"),
                            high=format(high, "g"))  # fmt: skip
        offset = _number(found, "offset_db", data.get("offset_db"), what, "2.5") or 0.0
        if not low <= offset <= high:
            found.bad("offset_db", lazy_gettext("offset_db %(offset)s dB is out of range: use %(low)s to %(high)s dB",
                                                offset=format(offset, "g"), low=format(low, "g"),
                                                high=format(high, "g")))  # fmt: skip
    found.check()
    return GatewayInput(gateway_id, zone_code, coordinates[0], coordinates[1], offset)


def inside(point: tuple[float, float], polygon: tuple[tuple[float, float], ...]) -> bool:
    """Ray casting; points on the outline count as inside."""
    x, y = point
    result = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        on_edge = abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) < 1e-9
        if on_edge and min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1):
            return True
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            result = not result
    return result
