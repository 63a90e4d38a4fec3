"""Floor-plan geometry shared by the simulator, the demo and the locate map: rectangular zones, gateways, walls."""

from __future__ import annotations

import math
from dataclasses import dataclass

ZONE_KINDS = ("room", "corridor", "exit", "soiled_utility")


@dataclass(frozen=True, slots=True)
class ZonePlan:
    code: str
    name: str
    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    max_radius_m: float = 9.0

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    @property
    def polygon(self) -> list[tuple[float, float]]:
        return [(self.x0, self.y0), (self.x1, self.y0), (self.x1, self.y1), (self.x0, self.y1)]


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    gateway_id: str
    zone: str
    x: float
    y: float
    offset_db: float = 0.0


@dataclass(frozen=True, slots=True)
class FloorPlan:
    building: str
    floor: str
    zones: tuple[ZonePlan, ...]
    gateways: tuple[GatewayPlan, ...]

    def zone(self, code: str) -> ZonePlan:
        for zone in self.zones:
            if zone.code == code:
                return zone
        raise KeyError(f"zone {code!r} is not on floor {self.floor}: use one of {[z.code for z in self.zones]}")

    def zone_at(self, x: float, y: float) -> str | None:
        """The most specific zone containing the point (rooms before corridors)."""
        inside = [z for z in self.zones if z.contains(x, y)]
        inside.sort(key=lambda z: (z.kind == "corridor", (z.x1 - z.x0) * (z.y1 - z.y0)))
        return inside[0].code if inside else None

    def walls_between(self, a: tuple[float, float], b: tuple[float, float]) -> int:
        """Rough wall count: zones that contain exactly one of the two points (each costs one wall)."""
        return sum(1 for z in self.zones if z.kind != "corridor" and z.contains(*a) != z.contains(*b))


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def demo_floor() -> FloorPlan:
    """Ward 3 East: 10 rooms along a corridor (9 clinical + soiled utility), the corridor and an exit lobby; a
    gateway in each room and one in the exit lobby (so leaving by it raises a zone-exit alert)."""
    names = [
        ("ICU-1", "ICU bay 1"), ("ICU-2", "ICU bay 2"), ("OR-1", "Theatre 1"), ("WARD-A", "Ward A"),
        ("EQUIP", "Equipment store"), ("WARD-B", "Ward B"), ("RAD", "Radiology"), ("ER-1", "Emergency 1"),
        ("PHARM", "Pharmacy"), ("SOILED", "Soiled utility"),
    ]  # fmt: skip
    zones: list[ZonePlan] = []
    gateways: list[GatewayPlan] = []
    for i, (code, name) in enumerate(names):
        col, row = i % 5, i // 5
        x0, y0 = col * 8.0, 0.0 if row == 0 else 10.0
        kind = "soiled_utility" if code == "SOILED" else "room"
        zones.append(ZonePlan(code, name, kind, x0, y0, x0 + 8.0, y0 + 6.0))
        gateways.append(GatewayPlan(f"gw-{code.lower()}", code, x0 + 4.0, y0 + (2.0 if row == 0 else 4.0)))
    zones.append(ZonePlan("CORR", "Corridor", "corridor", 0.0, 6.0, 40.0, 10.0))
    zones.append(ZonePlan("EXIT", "Exit lobby", "exit", 40.0, 6.0, 44.0, 10.0))
    gateways.append(GatewayPlan("gw-exit", "EXIT", 43.5, 8.0))  # at the far end, away from the corridor's traffic
    return FloorPlan("Main", "3", tuple(zones), tuple(gateways))
