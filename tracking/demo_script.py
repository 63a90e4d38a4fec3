"""The demo's timed faults, so every alert kind shows up within its first minutes, driven through the simulated
tags and gateways (nothing is written to the database directly):

- below PAR: the seeded statuses leave units short from the first PAR check;
- low battery: one tag's TLM battery drains below the threshold (~1 min);
- missing: one tag falls silent and stays silent (missing after `DEMO_MISSING_AFTER_S`, ~1 min);
- zone exit: one asset is wheeled into the exit lobby (~30 s), and back to the store later (auto-resolves);
- gateway down: one gateway stops (~40 s) and comes back later (auto-resolves).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tracking.cli import demo_tag_key
from tracking.simrun import LiveSimulator

DEMO_MISSING_AFTER_S = 60.0  # the demo's "missing after" (production default 600 s), unless set in the environment
LOW_BATTERY_TAG = 12  # Infusion pump 12
SILENT_TAG = 59  # Defibrillator 3
EXIT_TAG = 7  # Infusion pump 7
STOPPED_GATEWAY = "gw-rad"


def _steady(mv: int) -> Callable[[float], int]:
    return lambda _t: mv


def _draining(start_mv: int, per_s: float, since: float, floor_mv: int = 2300) -> Callable[[float], int]:
    return lambda t: max(floor_mv, round(start_mv - per_s * max(0.0, t - since)))


@dataclass
class DemoScript:
    """Called by the simulator before each step with the simulated time; runs each event once when due."""

    tags: int
    events: list[tuple[float, str, Callable[[LiveSimulator, float], None]]] = field(default_factory=list)
    started: float | None = None
    done: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.events = [
            (0.0, "batteries fitted", self._batteries),
            (5.0, f"tag of asset {SILENT_TAG} falls silent", self._silence),
            (15.0, f"asset {EXIT_TAG} wheeled to the exit lobby", self._to_exit),
            (30.0, f"gateway {STOPPED_GATEWAY} stops", self._stop_gateway),
            (150.0, f"gateway {STOPPED_GATEWAY} comes back", self._restart_gateway),
            (160.0, f"asset {EXIT_TAG} brought back to the store", self._back_from_exit),
        ]

    def __call__(self, simulator: LiveSimulator, now: float) -> None:
        if self.started is None:
            self.started = now
        while self.events and now - self.started >= self.events[0][0]:
            _offset, what, action = self.events.pop(0)
            action(simulator, now)
            self.done.append(what)

    def _batteries(self, simulator: LiveSimulator, now: float) -> None:
        rng = random.Random(7)
        for number in range(1, self.tags + 1):
            simulator.faults.battery[demo_tag_key(number)] = _steady(rng.randrange(2850, 3100, 10))
        simulator.faults.battery[demo_tag_key(LOW_BATTERY_TAG)] = _draining(2580, 1.5, now)

    def _silence(self, simulator: LiveSimulator, now: float) -> None:
        simulator.faults.silent_tags.add(demo_tag_key(SILENT_TAG))

    def _to_exit(self, simulator: LiveSimulator, now: float) -> None:
        simulator.send_to(demo_tag_key(EXIT_TAG), "EXIT", pause_s=3600.0)

    def _back_from_exit(self, simulator: LiveSimulator, now: float) -> None:
        simulator.send_to(demo_tag_key(EXIT_TAG), "EQUIP", pause_s=3600.0)

    def _stop_gateway(self, simulator: LiveSimulator, now: float) -> None:
        simulator.faults.stopped_gateways.add(STOPPED_GATEWAY)

    def _restart_gateway(self, simulator: LiveSimulator, now: float) -> None:
        simulator.faults.stopped_gateways.discard(STOPPED_GATEWAY)
