"""Pure BLE radio simulation: tags moving on scripts through a floor plan, heard by gateways with realistic noise.

RSSI = power at 1 m − 10·n·log10(d) − wall loss + Gaussian noise (σ≈3–4 dB); adverts are sometimes lost
to multipath and never heard below the receiver's sensitivity. Seeded, so tests are deterministic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from tracking.floorplan import FloorPlan, distance
from tracking.observation import Observation


@dataclass(frozen=True, slots=True)
class RadioModel:
    power_1m: int = -59
    path_loss_exponent: float = 2.2
    sigma_db: float = 3.5
    wall_db: float = 4.0
    drop_probability: float = 0.05  # multipath fades / collisions
    sensitivity_dbm: float = -98.0


@dataclass(slots=True)
class Walker:
    """A tag following waypoints (x, y, pause seconds) at walking speed; stays at the last one."""

    tag_key: str
    waypoints: list[tuple[float, float, float]]
    speed_mps: float = 1.2
    interval_s: float = 1.0
    start_s: float = 0.0
    _legs: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.replan(self.waypoints, self.start_s)

    def replan(self, waypoints: list[tuple[float, float, float]], start_s: float) -> None:
        """Legs of (t0, t1, x0, y0, x1, y1): move, then pause at each waypoint."""
        self.waypoints, self.start_s, self._legs = waypoints, start_s, []
        t = start_s
        x, y, pause = waypoints[0]
        self._legs.append((t, t + pause, x, y, x, y))
        t += pause
        for nx, ny, pause in waypoints[1:]:
            travel = math.hypot(nx - x, ny - y) / self.speed_mps
            self._legs.append((t, t + travel, x, y, nx, ny))
            self._legs.append((t + travel, t + travel + pause, nx, ny, nx, ny))
            t, x, y = t + travel + pause, nx, ny

    def position(self, t: float) -> tuple[float, float]:
        for t0, t1, x0, y0, x1, y1 in self._legs:
            if t <= t1:
                f = 0.0 if t1 <= t0 else max(0.0, min(1.0, (t - t0) / (t1 - t0)))
                return (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
        last = self._legs[-1]
        return (last[4], last[5])

    @property
    def end_s(self) -> float:
        return self._legs[-1][1]


class RadioSim:
    """Emits the observations gateways would report for the walkers, in time order."""

    def __init__(self, plan: FloorPlan, walkers: list[Walker], radio: RadioModel | None = None, seed: int = 1) -> None:
        self.plan, self.walkers, self.radio = plan, walkers, radio or RadioModel()
        self.rng = random.Random(seed)
        self._next = {w.tag_key: w.start_s + self.rng.uniform(0, w.interval_s) for w in walkers}

    def rssi(self, tag_xy: tuple[float, float], gateway_xy: tuple[float, float]) -> float:
        radio = self.radio
        d = max(distance(tag_xy, gateway_xy), 0.3)
        walls = self.plan.walls_between(tag_xy, gateway_xy)
        mean = radio.power_1m - 10 * radio.path_loss_exponent * math.log10(d) - radio.wall_db * walls
        return mean + self.rng.gauss(0.0, radio.sigma_db)

    def adverts_of(self, walker: Walker, t: float) -> list[Observation]:
        xy = walker.position(t)
        heard = []
        for gw in self.plan.gateways:
            if self.rng.random() < self.radio.drop_probability:
                continue
            value = self.rssi(xy, (gw.x, gw.y))
            if value >= self.radio.sensitivity_dbm:
                obs = Observation(gw.gateway_id, walker.tag_key, round(value), self.radio.power_1m, None, None, t)
                heard.append(obs)
        return heard

    def run(self, start_s: float, end_s: float) -> Iterator[Observation]:
        """Every advert of every walker between the two times, advertising at each tag's interval ±10 %."""
        by_key = {w.tag_key: w for w in self.walkers}
        while True:
            tag_key = min(self._next, key=self._next.__getitem__)
            t = self._next[tag_key]
            if t >= end_s:
                return
            walker = by_key[tag_key]
            self._next[tag_key] = t + walker.interval_s * self.rng.uniform(0.9, 1.1)
            if t >= start_s:
                yield from self.adverts_of(walker, t)
