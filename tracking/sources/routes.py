"""The MQTT route table: topic filter -> parser. Each gateway format registers its topics here.

How a format plugs in (a module of its own in `tracking/sources/`, e.g. `theengs.py`):

    from tracking.sources.routes import GatewayState, Route, Wildcards

    def parse_sighting(wildcards: Wildcards, payload: bytes, now: float) -> list[Observation]:
        gateway_id, mac = wildcards          # the values of the filter's `+` segments, in order
        ...                                  # raise limits.Rejected(field, reason, message) on bad input

    ROUTES = (Route("home/+/BTtoMQTT/+", parse_sighting, "theengs", tag_wildcard=1),)

and add the module's name to `FORMATS` below. A parser returns one `Observation`, a sequence of them,
a `GatewayState` (a gateway going on- or offline) or None (a message deliberately ignored). It is pure:
no I/O, no shared state it does not own; it raises `Rejected` for bad input (counted per `field:reason`
and logged by the consumer; any other exception is counted as an error and the next message goes on).

`tag_wildcard` names which `+` value identifies the tag, when the topic carries it: the consumer can
then choose the owning partition from the topic alone, before parsing (see `partition.py`). A format
whose tag is only in the payload leaves it None; its observations are partitioned after parsing.
`tag_key` maps that value onto our tag key (the partition hashes tag keys, so a tag heard through two
formats has one owner); without it the message is parsed and its observations filtered by tag key.
`broadcast=True` routes (gateway status) reach every partition.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tracking.observation import Observation

Wildcards = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GatewayState:
    gateway_id: str
    online: bool


Parsed = Observation | Sequence[Observation] | GatewayState | None
Parser = Callable[[Wildcards, bytes, float], Parsed]

# Modules in tracking/sources/ with a `ROUTES` tuple; `standard_routes` loads them in this order.
FORMATS: tuple[str, ...] = ("espresense", "theengs", "ingics", "minew")


@dataclass(frozen=True, slots=True)
class Route:
    filter: str  # MQTT topic filter relative to the consumer's prefix; `+` and a final `#` allowed
    parser: Parser
    name: str  # the format's name, shown in counters and logs
    tag_wildcard: int | None = None  # index of the `+` value that names the tag (None: only in the payload)
    broadcast: bool = False  # every partition receives it (e.g. gateway status)
    tag_key: Callable[[str], str] | None = None  # the tag wildcard's value -> our tag key (partition before parsing)

    def __post_init__(self) -> None:
        levels = self.filter.split("/")
        if not self.filter or any(("+" in s or "#" in s) and s not in ("+", "#") for s in levels):
            raise ValueError(f"route {self.name}: {self.filter!r} is not an MQTT topic filter")
        if "#" in levels[:-1]:
            raise ValueError(f"route {self.name}: '#' may only end a topic filter ({self.filter!r})")
        pluses = levels.count("+")
        if self.tag_wildcard is not None and not 0 <= self.tag_wildcard < pluses:
            raise ValueError(f"route {self.name}: tag_wildcard {self.tag_wildcard} but the filter has {pluses} '+'")


class RouteTable:
    """Routes under one topic prefix. `match` is on the hot path: a dict look-up on the first level, then
    a segment comparison; wildcard values come back as a tuple."""

    def __init__(self, routes: Iterable[Route] = (), prefix: str = "") -> None:
        self.prefix = prefix
        self.routes: list[Route] = []
        self._by_first: dict[str, list[tuple[Route, tuple[str, ...]]]] = {}
        self._any_first: list[tuple[Route, tuple[str, ...]]] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        if any(r.filter == route.filter for r in self.routes):
            raise ValueError(f"route {route.name}: {route.filter!r} is already routed")
        self.routes.append(route)
        levels = tuple(route.filter.split("/"))
        if levels[0] in ("+", "#"):
            self._any_first.append((route, levels))
        else:
            self._by_first.setdefault(levels[0], []).append((route, levels))

    def filters(self) -> list[str]:
        """The topic filters to subscribe to (with the prefix)."""
        return [self.prefix + route.filter for route in self.routes]

    def match(self, topic: str) -> tuple[Route, Wildcards] | None:
        if self.prefix:
            if not topic.startswith(self.prefix):
                return None
            topic = topic[len(self.prefix) :]
        parts = topic.split("/")
        for route, levels in self._by_first.get(parts[0], ()):
            found = _match(levels, parts)
            if found is not None:
                return route, found
        for route, levels in self._any_first:
            found = _match(levels, parts)
            if found is not None:
                return route, found
        return None


def _match(levels: tuple[str, ...], parts: list[str]) -> Wildcards | None:
    if levels[-1] == "#":
        if len(parts) < len(levels) - 1:
            return None
    elif len(parts) != len(levels):
        return None
    values: list[str] = []
    for level, part in zip(levels, parts, strict=False):
        if level == "+":
            if not part:
                return None
            values.append(part)
        elif level == "#":
            values.append("/".join(parts[len(levels) - 1 :]))
            break
        elif level != part:
            return None
    return tuple(values)


def standard_routes(prefix: str = "", formats: Sequence[str] = FORMATS) -> RouteTable:
    """Every registered format's routes, under `prefix`."""
    table = RouteTable(prefix=prefix)
    for name in formats:
        module = importlib.import_module(f"tracking.sources.{name}")
        for route in module.ROUTES:
            table.add(route)
    return table
