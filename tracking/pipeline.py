"""The ingest pipeline: sources push observations into one engine; a worker flushes its decisions to the database.

With several engine processes (`VENDTRACK_TRACKING_MQTT_PROCESSES`, docs/scaling.md) each pipeline owns one
tag partition: it writes the rooms of its own tags only, and the first partition (the lead) also does the
site-wide work: gateway uploads from the HTTP inbox, gateway states, missing tags, custody and PAR checks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, SystemClock, utc
from core.db import unit_of_work
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking import custody, inbox, par_plan, reasons, recording, walk_timing
from tracking.engine import EngineConfig, FloorModel, GatewaySpec, LocationEngine, RoomChange
from tracking.models import Asset, Gateway, Tag, Zone
from tracking.observation import Observation
from tracking.sources.limits import TimeLimits
from tracking.sources.partition import Partition
from tracking.sources.stats import IngestStats

log = logging.getLogger(__name__)
EXTRAS_KEY = "tracking.pipeline"
_create_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    missing_after_s: float = 600.0
    battery_low_mv: int = 2500
    floor_reload_s: float = 5.0  # how soon zone/gateway edits made by other processes take effect here
    par_check_s: float = 10.0
    lost_after_s: float = 30.0  # a tag no gateway heard this long becomes unknown (the sweep makes it so on time)
    future_tolerance_s: float = 5.0  # a sighting time further ahead of our clock is refused
    ingest_silent_after_s: float = 120.0  # an ingester that heard nothing this long turns /healthz degraded
    par_purchase_after_s: float = 3 * 86400.0  # a site-wide PAR shortfall this old becomes a purchase request
    walk_deadline_s: float = walk_timing.DEADLINE_S  # a walk mark not placed within this long is a "never" sample
    mqtt_processes: int = 1  # engine processes `vendtrack serve` runs, each owning one tag partition
    mqtt_partition: str = ""  # "INDEX/COUNT" of this process (set by `vendtrack serve`); empty: 0 of mqtt_processes
    mqtt_prefix: str = ""  # topic prefix the gateways publish under (e.g. "site-a/")
    mqtt_reader: bool = False  # one reader subscribes and routes each message to its tag's engine (tracking.reader)

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> TrackingSettings:
        defaults = cls()

        def number(name: str) -> float:
            return float(extra.get(f"tracking_{name}", getattr(defaults, name)))

        return cls(
            missing_after_s=number("missing_after_s"),
            battery_low_mv=int(number("battery_low_mv")),
            floor_reload_s=number("floor_reload_s"),
            lost_after_s=number("lost_after_s"),
            future_tolerance_s=number("future_tolerance_s"),
            ingest_silent_after_s=number("ingest_silent_after_s"),
            par_purchase_after_s=number("par_purchase_after_s"),
            walk_deadline_s=number("walk_deadline_s"),
            mqtt_processes=int(extra.get("tracking_mqtt_processes", defaults.mqtt_processes)),
            mqtt_partition=str(extra.get("tracking_mqtt_partition", "")),
            mqtt_prefix=str(extra.get("tracking_mqtt_prefix", "")),
            mqtt_reader=extra.get("tracking_mqtt_reader", "") == "1",
        )

    @property
    def partition(self) -> Partition:
        """The tags this process's engine owns: `mqtt_partition` if set, else the first of `mqtt_processes`."""
        if self.mqtt_partition:
            return Partition.parse(self.mqtt_partition)
        return Partition(0, max(1, self.mqtt_processes))

    @property
    def times(self) -> TimeLimits:
        return TimeLimits(future_tolerance_s=self.future_tolerance_s)


@dataclass(frozen=True, slots=True)
class FlushReport:
    room_changes: int
    tags_seen: int
    gateway_changes: int


def load_floor(session: Session) -> FloorModel:
    rows = session.execute(select(Gateway, Zone.code).join(Zone, Gateway.zone_id == Zone.id))
    gateways = {g.gateway_id: GatewaySpec(g.gateway_id, code, g.offset_db) for g, code in rows}
    radius = {z.code: z.max_radius_m for z in session.scalars(select(Zone)) if z.max_radius_m is not None}
    return FloorModel(gateways, radius)


class Pipeline:
    """Thread-safe front of the engine. `ingest` is cheap; `flush` writes decisions in one unit of work."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock | None = None,
        config: EngineConfig | None = None,
        settings: TrackingSettings | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock or SystemClock()
        self.settings = settings or TrackingSettings()
        config = config or EngineConfig(lost_after_s=self.settings.lost_after_s)
        self.engine = LocationEngine(FloorModel(), config)
        self.http_stats = IngestStats("tracking-http-batch", self.settings.ingest_silent_after_s)
        self.lock = threading.Lock()
        self.engine_matcher = TelemetryMatcher()  # ties TLM frames to tags across HTTP batches
        self.counters: Counter[str] = Counter()
        self._floor_at = -1e18
        self._par_at = -1e18
        self._known_gateways: frozenset[str] = frozenset()
        self._walk_tags: dict[str, int] = {}  # tag key -> open guided walk (read from the database at each flush)
        self._walk_heard: list[tuple[int, Observation]] = []  # their adverts, written at the next flush
        self.partition = self.settings.partition
        self.leads = self.partition.index == 0  # the lead partition also does the site-wide work

    def now(self) -> float:
        return self.clock.now().timestamp()

    def refresh_floor(self, force: bool = False) -> None:
        """Reload zones and gateways when `floor_reload_s` has passed (or at once when forced)."""
        now = time.monotonic()
        if not force and now - self._floor_at < self.settings.floor_reload_s:
            return
        with self.session_factory() as session:
            floor = load_floor(session)
        with self.lock:
            if floor != self.engine.floor:
                self.engine.set_floor(floor)
                self._known_gateways = frozenset(floor.gateways)
            self._floor_at = now

    def knows_gateway(self, gateway_id: str) -> bool:
        if gateway_id not in self._known_gateways:
            self.refresh_floor(force=True)
        return gateway_id in self._known_gateways

    def ingest(self, observations: Iterable[Observation]) -> int:
        count = 0
        engine = self.engine
        walks = self._walk_tags
        with self.lock:
            for obs in observations:
                if obs.battery_mv is not None or obs.temperature_c is not None:
                    engine.telemetry(obs.tag_key, obs.battery_mv, obs.temperature_c, obs.at)
                if obs.rssi:
                    engine.observe(obs.tag_key, obs.gateway_id, obs.rssi, obs.ref_power, obs.at)
                    if walks and obs.tag_key in walks:
                        self._walk_heard.append((walks[obs.tag_key], obs))
                count += 1
        self.counters["observations"] += count
        return count

    def ingest_one(self, obs: Observation) -> None:
        """One observation (the MQTT hot path): no list, one lock."""
        with self.lock:
            if obs.battery_mv is not None or obs.temperature_c is not None:
                self.engine.telemetry(obs.tag_key, obs.battery_mv, obs.temperature_c, obs.at)
            if obs.rssi:
                self.engine.observe(obs.tag_key, obs.gateway_id, obs.rssi, obs.ref_power, obs.at)
                if self._walk_tags and obs.tag_key in self._walk_tags:
                    self._walk_heard.append((self._walk_tags[obs.tag_key], obs))

    def gateway_status(self, gateway_id: str, online: bool) -> None:
        with self.lock:
            self.engine.gateway_status(gateway_id, online, self.now())

    def take_uploads(self) -> int:
        """Feed the engine the gateway uploads the web processes queued (tracking.inbox); returns batches taken."""
        taken_total = 0
        while True:
            with unit_of_work(self.session_factory) as session:
                taken = inbox.take(session)
            for gateway_id, online in taken.heartbeats:
                self.gateway_status(gateway_id, online)
            self.ingest(taken.observations)
            taken_total += taken.batches
            if taken.batches < inbox.TAKE_LIMIT:
                return taken_total

    def flush(self, at: float | None = None) -> FlushReport:
        """Run due decisions, then write room changes, last-seen, gateway states and alerts.

        `at` decides as of another moment than the clock's now (a replayed recording ends at its last sighting).
        """
        self.refresh_floor()
        if self.leads:
            self.take_uploads()
        now_dt = self.clock.now() if at is None else recording.at_time(at)
        now = now_dt.timestamp()
        with self.lock:
            gateway_changes = self.engine.tick(now)
            changes = self.engine.drain_changes()
            seen = self.engine.drain_seen(now)
            heard = self.engine.heard_since(now - 60.0)
            walk_heard, self._walk_heard = self._walk_heard, []
        released: list[RoomChange] = []
        try:
            with unit_of_work(self.session_factory) as session:
                recording.apply_room_changes(session, changes)
                recording.record_seen(session, seen, self.settings.battery_low_mv)
                self._walk_work(session, changes, walk_heard, now)
                if self.leads:
                    recording.record_gateway_changes(session, gateway_changes, heard)
                    recording.check_missing(session, now_dt, timedelta(seconds=self.settings.missing_after_s))
                    custody.check(session, now_dt)
                if time.monotonic() - self._par_at >= self.settings.par_check_s:
                    released = self._release_unheard(session, now)
                    if self.leads:
                        recording.check_par(session, now_dt)
                        par_plan.check_shortfalls(session, now_dt,
                                                  timedelta(seconds=self.settings.par_purchase_after_s))  # fmt: skip
                    self._par_at = time.monotonic()
        except Exception:
            with self.lock:
                self.engine.requeue(changes, seen)
                self._walk_heard[:0] = walk_heard
            raise
        self.counters["room_changes"] += len(changes) + len(released)
        return FlushReport(len(changes) + len(released), len(seen), len(gateway_changes))

    def _walk_work(
        self, session: Session, changes: list[RoomChange], heard: list[tuple[int, Observation]], now: float
    ) -> None:
        """Guided walks: store the walk tags' adverts, settle the marks' time-to-room-change samples, and learn
        which tags are on an open walk now (a walk started in a web process is followed from the next flush)."""
        walk_timing.record_sightings(session, heard)
        pending = [mark for mark in walk_timing.pending_marks(session) if self.partition.owns(mark.tag_key)]
        if pending:
            with self.lock:
                placed = {mark.tag_key: self.engine.placed(mark.tag_key) for mark in pending}
            walk_timing.settle_marks(session, pending, changes, placed, now, self.settings.walk_deadline_s)
        self._walk_tags = walk_timing.open_walk_tags(session)

    def _release_unheard(self, session: Session, now: float) -> list[RoomChange]:
        """Assets still placed in a room by an earlier process (this engine never heard their tag) whose tag has
        been silent past `lost_after_s`: unknown, as the engine would have made them. Tags this engine knows are
        its own business; tags another partition owns are that partition's."""
        limit = self.engine.config.lost_after_s
        cutoff = recording.at_time(now - limit)
        rows = session.execute(
            select(Tag.tag_key, Zone.code, Tag.last_seen_at)
            .join(Asset, Asset.tag_id == Tag.id)
            .join(Zone, Asset.zone_id == Zone.id)
            .where(Tag.last_seen_at < cutoff)
        ).all()
        with self.lock:
            stale = [(key, zone, seen) for key, zone, seen in rows
                     if seen is not None and not self.engine.knows(key) and self.partition.owns(key)]  # fmt: skip
        changes = [
            RoomChange(key, zone, None, 0.0, reasons.lost(now - utc(seen).timestamp(), limit, None), now)
            for key, zone, seen in stale
        ]  # fmt: skip
        recording.apply_room_changes(session, changes)
        return changes


def floor_changed(services: Any) -> None:
    """Zones or gateways were changed and committed: this process's engine (if it has one) reloads now.

    Engines in other processes pick the change up at their next periodic reload (`floor_reload_s`).
    """
    found: Pipeline | None = services.extras.get(EXTRAS_KEY)
    if found is not None:
        found.refresh_floor(force=True)


def pipeline_for(services: Any) -> Pipeline:
    """The app's one pipeline (created on first use, kept in `services.extras`)."""
    with _create_lock:
        found: Pipeline | None = services.extras.get(EXTRAS_KEY)
        if found is None:
            settings = TrackingSettings.from_extra(services.settings.extra)
            found = services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, services.clock, settings=settings)
        return found
