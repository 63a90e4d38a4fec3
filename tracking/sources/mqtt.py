"""MQTT source (MQTT 5, QoS 1): whatever the route table routes, plus a raw-advert batch topic.

Gateway formats plug in through the route table (`tracking/sources/routes.py`): a format module in
`tracking/sources/` declares `ROUTES = (Route("<topic filter>", parser, "<name>", tag_wildcard=i), ...)`,
where `parser(wildcards, payload, now)` returns an `Observation`, a sequence of them, a `GatewayState`
or None and raises `limits.Rejected` on bad input; its module name is added to `routes.FORMATS`. A
consumer built without `routes=` subscribes to every registered format (`routes.standard_routes`);
pass `routes=RouteTable([...])` to choose. The ESPresense module (`espresense.py`) is the example.

Several engine processes share the load by tag (`partition=Partition(i, n)`: each hears every topic and
keeps the tags it owns, `tracking/sources/partition.py`); without a partition, consumers of one `group`
share a subscription (`$share/<group>/...`, round-robin: only for sources where any process may take any
message). The network session is `tracking.sources.fastmqtt.run_session` (our MQTT 5 socket loop; QoS 1
acknowledged after `handle`), run by a `core.supervisor.Supervised` thread: a refused login, a lost
connection or an error that escapes a message ends one session, and the supervisor opens a fresh one after
a backoff. A bad message is a counted, logged rejection (`field:reason`); an unexpected error on one
message is logged and counted, and the next message is handled as usual.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from core.heartbeats import Beat
from core.supervisor import Supervised
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation
from tracking.sources.batch import load_body, parse_batch
from tracking.sources.espresense import device_route as _esp_device
from tracking.sources.espresense import parse_device_message, tag_key_from_espresense
from tracking.sources.fastmqtt import RECEIVE_MAXIMUM, BrokerConfig, run_session
from tracking.sources.limits import Rejected, TimeLimits
from tracking.sources.partition import FOREIGN_TOPICS, ForeignTopics, Partition
from tracking.sources.routes import GatewayState, Route, RouteTable, Wildcards, standard_routes
from tracking.sources.stats import IngestStats

log = logging.getLogger(__name__)

RAW = "vendtrack/adverts/+"


__all__ = ["RAW", "BrokerConfig", "MqttConsumer"]


class MqttConsumer:
    """Feeds `ingest(list[Observation])` and `gateway_status(gateway_id, online)` from the broker."""

    def __init__(
        self,
        ingest: Callable[[list[Observation]], Any],
        gateway_status: Callable[[str, bool], Any],
        ingest_one: Callable[[Observation], Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 1883,
        prefix: str = "",
        group: str | None = "vendtrack",
        clock: Callable[[], float] = time.time,
        backoff: tuple[float, float] = (1, 30),
        broker: BrokerConfig | None = None,
        times: TimeLimits | None = None,
        silent_after_s: float | None = None,
        routes: RouteTable | None = None,
        partition: Partition | None = None,
        heard: Callable[[str, float], Any] | None = None,
        receive_maximum: int = RECEIVE_MAXIMUM,
        keepalive: int = 30,
        session_expiry_s: int = 0,
        client_id: str = "",
    ) -> None:
        self.ingest, self.gateway_status, self.clock = ingest, gateway_status, clock
        self.ingest_one: Callable[[Observation], Any] = ingest_one or (lambda obs: ingest([obs]))
        self.broker = broker or BrokerConfig(host, port)
        self.host, self.port, self.prefix, self.group = self.broker.host, self.broker.port, prefix, group
        self.times = times or TimeLimits()
        self._devices = prefix + "espresense/devices/"
        self.routes = routes if routes is not None else standard_routes(prefix)
        self.routes.prefix = prefix
        if not any(route.filter == RAW for route in self.routes.routes):
            self.routes.add(Route(RAW, self._raw_batch, "vendtrack-adverts"))
        self.partition = partition if partition is not None and not partition.whole else None
        self.heard = heard or (lambda _gateway, _at: None)
        self._not_ours = 0  # messages about tags another partition owns, looked at by `handle`
        # topics of other partitions' tags: `fastmqtt.feed` drops their messages without calling `handle`
        self.foreign = ForeignTopics(self.heard, clock) if self.partition is not None else None
        self._mine: set[str] = set()  # topics of this partition's tags
        self._espresense_fast = any(r.parser is _esp_device for r in self.routes.routes)
        self._handled = self.observations = self.connects = self.disconnects = self.unknown_topic = 0
        self.matcher = TelemetryMatcher()
        self.connected = False
        self.subscribed = False  # the broker acknowledged our subscriptions (messages published before are lost)
        part = f" partition {self.partition.index}/{self.partition.count}" if self.partition is not None else ""
        self.stats = IngestStats(f"tracking-mqtt {self.broker.describe()}/{prefix}{part}", silent_after_s)
        self.supervisor = Supervised(f"tracking-mqtt-{self.host}:{self.port}", self._session, backoff=backoff)
        self.receive_maximum, self.keepalive = receive_maximum, keepalive
        self.session_expiry_s = session_expiry_s  # > 0 with a fixed client_id: the broker keeps our queue while away
        self.client_id = client_id or f"vendtrack-{uuid.uuid4().hex[:10]}"
        self.acked = 0  # QoS 1 messages acknowledged to the broker (each after `handle` returned)

    # ---- lifecycle -----------------------------------------------------------------------------
    def topics(self) -> list[str]:
        """A partition hears every topic and keeps its own tags; otherwise the group shares one subscription."""
        share = f"$share/{self.group}/" if self.group and self.partition is None else ""
        return [share + topic for topic in self.routes.filters()]

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()

    def heartbeat(self) -> Beat:
        extra = {"messages": self.messages, "connects": self.connects, "restarts": self.supervisor.restarts}
        return self.stats.beat(self.supervisor.state, self.supervisor.alive_at, self.supervisor.last_error,
                               f"{self.broker.describe()} topics {self.prefix or '/'}", extra)  # fmt: skip

    def _session(self, supervisor: Supervised) -> None:
        run_session(self, supervisor)

    # ---- messages ------------------------------------------------------------------------------
    @property
    def messages(self) -> int:
        """Messages received: those `handle` looked at and those `feed` dropped as other partitions' by topic."""
        return self._handled + (self.foreign.dropped if self.foreign is not None else 0)

    @property
    def not_ours(self) -> int:
        """Messages about tags another partition owns (dropped)."""
        return self._not_ours + (self.foreign.dropped if self.foreign is not None else 0)

    @property
    def malformed(self) -> int:
        return sum(self.stats.rejected.values())

    @property
    def counters(self) -> dict[str, int]:
        found = self.stats.counters()
        found.update(messages=self.messages, observations=self.observations, malformed=self.malformed)
        found.update(connects=self.connects, disconnects=self.disconnects, unknown_topic=self.unknown_topic)
        return found

    def handle(self, topic: str, payload: bytes) -> None:
        """Route one message; public so tests and benchmarks can drive it without a broker."""
        self._handled += 1
        try:
            if self._espresense_fast and topic.startswith(self._devices):  # the hot path: one ESPresense sighting
                device, _, gateway_id = topic[len(self._devices) :].partition("/")
                if device and gateway_id and "/" not in gateway_id:
                    part, foreign = self.partition, self.foreign
                    if part is not None and foreign is not None and topic not in self._mine:
                        if not part.owns(tag_key_from_espresense(device)):
                            self._not_ours += 1
                            foreign.add(topic, gateway_id)  # its next messages stop in `feed`
                            return
                        if len(self._mine) >= FOREIGN_TOPICS:
                            self._mine.clear()
                        self._mine.add(topic)  # ours: its next messages skip the tag key and the owner check
                    obs = parse_device_message(gateway_id, payload, self.clock())
                    self.ingest_one(obs)
                    self.observations += 1
                    self.stats.accept_one()  # only this consumer's network thread counts here
                    return
            self._handle_other(topic, payload)
        except Rejected as exc:
            self.stats.reject(exc.key, exc.message, f" on {topic[:200]!r}")
        except Exception as exc:  # a parser's bug on one message: counted and logged, the next one goes on
            self.stats.error(exc, f" on {topic[:200]!r}")

    def _handle_other(self, topic: str, payload: bytes) -> None:
        found = self.routes.match(topic)
        if found is None:
            self.unknown_topic += 1
            return
        route, wildcards = found
        part = self.partition
        key_of, index = route.tag_key, route.tag_wildcard
        if part is not None and key_of is not None and index is not None and not part.owns(key_of(wildcards[index])):
            self._not_ours += 1
            return
        result = route.parser(wildcards, payload, self.clock())
        if result is None:
            return
        if isinstance(result, GatewayState):
            self.stats.heard()
            self.gateway_status(result.gateway_id, result.online)
            return
        if part is not None:
            result = self._ours(result)
        if isinstance(result, Observation):
            self.ingest_one(result)
            self.observations += 1
            self.stats.accept_one()
        elif result:
            self.ingest(list(result))
            self.observations += len(result)
            self.stats.accept(len(result))

    def _ours(self, result: Observation | Sequence[Observation]) -> list[Observation]:
        part = self.partition
        assert part is not None
        found = [result] if isinstance(result, Observation) else list(result)
        kept = [obs for obs in found if part.owns(obs.tag_key)]
        self._not_ours += len(found) - len(kept)
        return kept

    def _raw_batch(self, wildcards: Wildcards, payload: bytes, now: float) -> None:
        gateway_id = wildcards[0]
        result = parse_batch(load_body(payload), gateway_id, now, self.matcher, self.times)
        for error in result.rejected:
            self.stats.reject(error.key, error.message, f" (advert {error.index} from {gateway_id[:64]!r})")
        kept = self._ours(result.observations) if self.partition is not None else result.observations
        if kept:
            self.ingest(kept)
            self.observations += len(kept)
            self.stats.accept(len(kept))
