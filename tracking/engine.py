"""The location engine: pure, no I/O. Per (tag, gateway) RSSI windows, robust statistics, room choice with hysteresis.

Hot path (`observe`): two deque appends and a few dict look-ups per advert. The room decision runs at
most every `decide_every_s` per tag: stale readings are dropped, each gateway's window is reduced to a
median plus its calibration offset, and the strongest zone challenges the incumbent; it wins only by
`margin_db` for `dwell_s`. A zone whose gateways have all gone silent keeps its tags (the gateway is
reported down) instead of handing them to the neighbouring room that still hears them faintly; a tag
that no gateway at all has heard for `lost_after_s` becomes unknown, and `tick` (run on a clock by the
pipeline's flush worker) makes that happen on time even when no other advert arrives.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from core.notes import N_, Note
from tracking import reasons

UNKNOWN = None  # a zone of None is the explicit "unknown"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    window_s: float = 15.0  # robust window per (tag, gateway)
    margin_db: float = 3.0  # a challenger must beat the incumbent by this much...
    dwell_s: float = 3.0  # ...for this long
    decide_every_s: float = 1.0
    first_fix_s: float = 2.0  # listen this long to a new tag before the first decision
    min_samples: int = 2  # readings a gateway needs in the window to count
    gateway_down_s: float = 10.0  # a gateway silent this long is reported down
    lost_after_s: float = 30.0  # a tag nobody heard this long becomes unknown
    forget_after_s: float = 6 * 3600.0  # ...and is dropped from memory after this long
    path_loss_exponent: float = 2.2
    default_ref_power: int = -59
    ring_size: int = 32


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    gateway_id: str
    zone: str
    offset_db: float = 0.0  # added to every RSSI this gateway reports (calibration)


@dataclass(frozen=True, slots=True)
class FloorModel:
    gateways: dict[str, GatewaySpec] = field(default_factory=dict)
    max_radius_m: dict[str, float] = field(default_factory=dict)  # per zone; missing = no limit

    def zone_gateways(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for spec in self.gateways.values():
            found.setdefault(spec.zone, []).append(spec.gateway_id)
        return {zone: tuple(ids) for zone, ids in found.items()}


@dataclass(frozen=True, slots=True)
class RoomChange:
    tag_key: str
    from_zone: str | None
    to_zone: str | None
    confidence: float
    reason: Note  # why this room: stored as a note (tracking.reasons), shown in the reader's language
    at: float


@dataclass(frozen=True, slots=True)
class GatewayChange:  # i18n: location-engine diagnostics (API, logs)
    gateway_id: str
    up: bool
    reason: Note  # shown on the gateway's alert, in the reader's language
    at: float


@dataclass(frozen=True, slots=True)
class TagSeen:
    tag_key: str
    last_seen: float
    zone: str | None
    confidence: float
    battery_mv: int | None
    temperature_c: float | None


class _Link:
    __slots__ = ("rssi", "times")

    def __init__(self, size: int) -> None:
        self.times: deque[float] = deque(maxlen=size)
        self.rssi: deque[int] = deque(maxlen=size)


class _Tag:
    __slots__ = (
        "battery", "challenger", "challenger_since", "confidence", "due", "last_seen", "links",
        "reason", "ref_power", "since", "temperature", "zone",
    )  # fmt: skip

    def __init__(self, due: float) -> None:
        self.links: dict[str, _Link] = {}
        self.due = due
        self.zone: str | None = None
        self.confidence = 0.0
        self.since = 0.0  # 0 = never located
        self.reason = reasons.NONE
        self.last_seen = 0.0
        self.ref_power: int | None = None
        self.battery: int | None = None
        self.temperature: float | None = None
        self.challenger: str | None = None
        self.challenger_since = 0.0


class LocationEngine:
    def __init__(self, floor: FloorModel, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._tags: dict[str, _Tag] = {}
        self._heard: dict[str, float] = {}  # gateway -> last advert time
        self._offline: set[str] = set()  # gateways that said so (ESPresense status)
        self._down: dict[str, float] = {}  # gateways reported down -> since
        self._changes: list[RoomChange] = []
        self._last_drain = 0.0
        self.set_floor(floor)

    def set_floor(self, floor: FloorModel) -> None:
        self.floor = floor
        self._zone_gateways = floor.zone_gateways()

    # ---- hot path -------------------------------------------------------------------------------
    def observe(self, tag_key: str, gateway_id: str, rssi: int, ref_power: int | None, at: float) -> None:
        tag = self._tags.get(tag_key)
        if tag is None:
            tag = self._tags[tag_key] = _Tag(at + self.config.first_fix_s)
        link = tag.links.get(gateway_id)
        if link is None:
            link = tag.links[gateway_id] = _Link(self.config.ring_size)
        link.times.append(at)
        link.rssi.append(rssi)
        self._heard[gateway_id] = at
        if at > tag.last_seen:
            tag.last_seen = at
        if ref_power is not None:
            tag.ref_power = ref_power
        if at >= tag.due:
            self._decide(tag_key, tag, at)

    def telemetry(self, tag_key: str, battery_mv: int | None, temperature_c: float | None, at: float) -> None:
        tag = self._tags.get(tag_key)
        if tag is None:
            tag = self._tags[tag_key] = _Tag(at + self.config.first_fix_s)
        if at > tag.last_seen:
            tag.last_seen = at
        if battery_mv is not None:
            tag.battery = battery_mv
        if temperature_c is not None:
            tag.temperature = temperature_c

    def heard(self, gateway_id: str, at: float) -> None:
        """A known gateway was heard (an advert of a tag another partition owns): it is not silent."""
        if gateway_id in self.floor.gateways and at > self._heard.get(gateway_id, at - 1.0):
            self._heard[gateway_id] = at

    def gateway_status(self, gateway_id: str, online: bool, at: float) -> None:
        if online:
            self._offline.discard(gateway_id)
            self._heard[gateway_id] = max(at, self._heard.get(gateway_id, at))
        else:
            self._offline.add(gateway_id)

    # ---- decisions ------------------------------------------------------------------------------
    def _silent(self, gateway_id: str, now: float) -> bool:
        heard = self._heard.get(gateway_id)
        return gateway_id in self._offline or heard is None or now - heard > self.config.gateway_down_s

    def _zone_scores(self, tag: _Tag, now: float) -> dict[str, tuple[float, str]]:
        """Per zone, the best gateway's median RSSI (+ calibration offset) over the fresh part of the window."""
        cutoff = now - self.config.window_s
        min_samples = self.config.min_samples
        gateways = self.floor.gateways
        scores: dict[str, tuple[float, str]] = {}
        emptied = None
        for gateway_id, link in tag.links.items():
            times = link.times
            if times[0] < cutoff:
                rssi = link.rssi
                while times and times[0] < cutoff:
                    times.popleft()
                    rssi.popleft()
                if not times:
                    emptied = [*(emptied or ()), gateway_id]
                    continue
            count = len(times)
            spec = gateways.get(gateway_id)
            if count < min_samples or spec is None:
                continue
            ordered = sorted(link.rssi)
            mid = count >> 1
            score = (ordered[mid] if count & 1 else (ordered[mid - 1] + ordered[mid]) * 0.5) + spec.offset_db
            best = scores.get(spec.zone)
            if best is None or score > best[0]:
                scores[spec.zone] = (score, gateway_id)
        for gateway_id in emptied or ():
            del tag.links[gateway_id]
        return scores

    def _decide(self, tag_key: str, tag: _Tag, now: float) -> None:
        cfg = self.config
        tag.due = now + cfg.decide_every_s
        scores = self._zone_scores(tag, now)
        incumbent = tag.zone
        if not scores:
            if incumbent is None:
                return
            silent_zone = self._zone_silent(incumbent, now)
            if now - tag.last_seen >= cfg.lost_after_s:  # lost, whether or not its room's gateway still talks
                reason = reasons.lost(now - tag.last_seen, cfg.lost_after_s, incumbent if silent_zone else None)
                self._switch(tag_key, tag, None, 0.0, reason, now)
            elif silent_zone:
                self._hold(tag, incumbent)
            return
        best_zone, best_score, best_gateway, second = "", -math.inf, "", -math.inf
        for zone, (score, gateway_id) in scores.items():
            if score > best_score:
                best_zone, best_score, best_gateway, second = zone, score, gateway_id, best_score
            elif score > second:
                second = score
        margin_2nd = best_score - second if second > -math.inf else 15.0
        confidence = round(1.0 - 0.5 * math.exp(-margin_2nd / (2 * cfg.margin_db)), 3)
        candidate: str | None = best_zone
        too_far = self._beyond_radius(tag, best_zone, best_score)
        if too_far is not None:
            candidate, confidence = None, 0.0
        if candidate == incumbent:
            tag.challenger = None
            tag.confidence = confidence
            return
        if incumbent is not None and self._zone_silent(incumbent, now):
            self._hold(tag, incumbent)
            return
        margin: float | None = None  # over the incumbent; inf when the incumbent's room no longer hears it
        if incumbent is not None and candidate is not None:
            inc = scores.get(incumbent)
            margin = best_score - inc[0] if inc is not None else math.inf
            if margin < cfg.margin_db:
                tag.challenger = None
                tag.confidence = confidence
                return
        first_fix = tag.since == 0.0
        if tag.challenger != candidate or (candidate is None and tag.challenger_since == 0.0):
            tag.challenger, tag.challenger_since = candidate, now
        if not first_fix and now - tag.challenger_since < cfg.dwell_s:
            return
        dwell = None if first_fix else now - tag.challenger_since
        if too_far is not None:  # the note is built here only, when the room changes
            reason = reasons.beyond_radius(best_gateway, best_score, too_far, best_zone,
                                           self.floor.max_radius_m[best_zone], dwell)  # fmt: skip
        else:
            reason = reasons.strongest(best_gateway, best_score, incumbent, margin, dwell)
        self._switch(tag_key, tag, candidate, confidence, reason, now)

    def _zone_silent(self, zone: str, now: float) -> bool:
        """Every gateway of the zone is silent. A zone left with no gateway (moved or deleted) is not silent:
        nothing there can come back, so its tags are free to move on or become unknown."""
        gateways = self._zone_gateways.get(zone, ())
        return bool(gateways) and all(self._silent(g, now) for g in gateways)

    def _beyond_radius(self, tag: _Tag, zone: str, score: float) -> float | None:
        """The estimated distance in metres when it lies beyond the zone's radius, else None."""
        radius = self.floor.max_radius_m.get(zone)
        if radius is None:
            return None
        cfg = self.config
        ref = tag.ref_power if tag.ref_power is not None else cfg.default_ref_power
        distance: float = 10 ** ((ref - score) / (10 * cfg.path_loss_exponent))
        return None if distance <= radius else distance

    def _hold(self, tag: _Tag, zone: str) -> None:
        if not reasons.is_hold(tag.reason, zone):  # built once per hold, not on every decision while it lasts
            tag.reason = reasons.hold(zone, self._zone_gateways.get(zone, ()))
        tag.confidence = min(tag.confidence, 0.5)
        tag.challenger = None

    def _switch(self, tag_key: str, tag: _Tag, zone: str | None, confidence: float, reason: Note, now: float) -> None:
        self._changes.append(RoomChange(tag_key, tag.zone, zone, confidence, reason, now))
        tag.zone, tag.confidence, tag.reason, tag.since = zone, confidence, reason, now
        tag.challenger, tag.challenger_since = None, 0.0

    # ---- periodic work --------------------------------------------------------------------------
    def tick(self, now: float) -> list[GatewayChange]:
        """Decide for tags that went quiet, and report gateways that went down or came back."""
        forgotten = []
        for tag_key, tag in self._tags.items():
            if now >= tag.due:
                self._decide(tag_key, tag, now)
            if tag.zone is None and now - tag.last_seen > self.config.forget_after_s:
                forgotten.append(tag_key)
        for tag_key in forgotten:
            del self._tags[tag_key]
        changes: list[GatewayChange] = []
        for gateway_id in self.floor.gateways:
            silent = self._silent(gateway_id, now)
            if silent and gateway_id not in self._down:
                self._down[gateway_id] = now
                why = Note.of(N_("silent for over %(seconds)s s"), seconds=round(self.config.gateway_down_s))
                if gateway_id in self._offline:
                    why = Note.of(N_("reported offline"))
                changes.append(GatewayChange(gateway_id, False, why, now))
            elif not silent and gateway_id in self._down:
                del self._down[gateway_id]
                changes.append(GatewayChange(gateway_id, True, Note.of(N_("heard again")), now))
        return changes

    def drain_changes(self) -> list[RoomChange]:
        changes, self._changes = self._changes, []
        return changes

    def drain_seen(self, now: float) -> list[TagSeen]:
        """Tags heard since the previous call: what the batched last-seen update writes."""
        since, self._last_drain = self._last_drain, now
        return [
            TagSeen(key, t.last_seen, t.zone, t.confidence, t.battery, t.temperature)
            for key, t in self._tags.items()
            if t.last_seen > since
        ]

    def requeue(self, changes: list[RoomChange], seen: list[TagSeen]) -> None:
        """Put back what a failed flush could not write, so nothing is lost."""
        self._changes[:0] = changes
        if seen:
            self._last_drain = min(self._last_drain, min(s.last_seen for s in seen) - 1e-6)

    def heard_since(self, since: float) -> dict[str, float]:
        return {gateway_id: at for gateway_id, at in self._heard.items() if at >= since}

    def knows(self, tag_key: str) -> bool:
        return tag_key in self._tags

    def location(self, tag_key: str) -> tuple[str | None, float, Note]:
        tag = self._tags.get(tag_key)
        return (None, 0.0, reasons.NEVER_HEARD) if tag is None else (tag.zone, tag.confidence, tag.reason)

    def placed(self, tag_key: str) -> tuple[str | None, float]:
        """The room the tag is in and since when (None, 0.0 when unknown or never heard)."""
        tag = self._tags.get(tag_key)
        return (None, 0.0) if tag is None or tag.zone is None else (tag.zone, tag.since)

    def gateways_down(self) -> dict[str, float]:
        return dict(self._down)
