"""MQTT topics of the third-party gateway formats: a route table (topic filter -> parser) and how an outcome lands.

    home/<gateway>/BTtoMQTT/<MAC>   OpenMQTTGateway / Theengs Gateway advert     -> theengs.parse_bt_message
    home/<gateway>/LWT              online / offline                             -> theengs.parse_lwt
    home/<gateway>/SYStoMQTT        the gateway's system record (alive)          -> theengs.parse_system
    ingics/<gateway>                Ingics iGS report lines (text or JSON)       -> ingics.parse_report

The `<gateway>` segment is our gateway id (register it in a zone as for ESPresense rooms). The MQTT consumer
subscribes to `FILTERS` under its prefix and hands every topic it does not know itself to `handle`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation
from tracking.sources import ingics, theengs
from tracking.sources.formats import FormatContext, Outcome
from tracking.sources.limits import TimeLimits
from tracking.sources.stats import IngestStats

Handler = Callable[[list[str], bytes, FormatContext], Outcome]


@dataclass(frozen=True, slots=True)
class Route:
    filter: str  # an MQTT topic filter; "+" matches one segment
    handler: Handler
    fmt: str  # the format's name, for logs and docs

    def matches(self, parts: list[str]) -> bool:
        pattern = self.filter.split("/")
        return len(pattern) == len(parts) and all(p in ("+", s) for p, s in zip(pattern, parts, strict=True))


def _ingics(parts: list[str], payload: bytes, context: FormatContext) -> Outcome:
    return ingics.parse_report(ingics.load_lines(payload), parts[1], context)


ROUTES: tuple[Route, ...] = (
    Route("home/+/BTtoMQTT/+", lambda parts, payload, c: theengs.parse_bt_message(parts[1], payload, c), "theengs"),
    Route("home/+/LWT", lambda parts, payload, _c: theengs.parse_lwt(parts[1], payload), "theengs"),
    Route("home/+/SYStoMQTT", lambda parts, payload, _c: theengs.parse_system(parts[1], payload), "theengs"),
    Route("ingics/+", _ingics, "ingics"),
)
FILTERS: tuple[str, ...] = tuple(route.filter for route in ROUTES)


class Consumer(Protocol):
    """What `handle` needs from the MQTT consumer."""

    clock: Callable[[], float]
    matcher: TelemetryMatcher
    times: TimeLimits
    stats: IngestStats
    observations: int
    ingest: Callable[[list[Observation]], Any]
    gateway_status: Callable[[str, bool], Any]


def find(parts: list[str]) -> Route | None:
    return next((route for route in ROUTES if route.matches(parts)), None)


def handle(consumer: Consumer, parts: list[str], payload: bytes) -> bool:
    """Parse and apply one message if a route knows its topic (False: no route). `Rejected` propagates."""
    route = find(parts)
    if route is None:
        return False
    outcome = route.handler(parts, payload, FormatContext(consumer.clock(), consumer.matcher, consumer.times))
    apply(outcome, consumer, route.fmt)
    return True


def apply(outcome: Outcome, consumer: Consumer, fmt: str) -> None:
    stats = consumer.stats
    for error in outcome.rejected:
        stats.reject(error.key, error.message, f" ({fmt} record {error.index} from {outcome.gateway_id[:64]!r})")
    if outcome.heartbeat is not None:
        consumer.gateway_status(outcome.gateway_id, outcome.heartbeat)
    if outcome.observations:
        consumer.ingest(outcome.observations)
        consumer.observations += len(outcome.observations)
        stats.accept(len(outcome.observations))
    else:
        stats.heard()
