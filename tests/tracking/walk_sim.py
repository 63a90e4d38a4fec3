"""A simulated guided walk for the walk tests: a person carries one tag from room to room on the demo floor,
tapping "I am in room X" as they cross into it and standing near its middle; gateways read with injected bias."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.models import Site
from tracking.floorplan import FloorPlan
from tracking.models import Gateway, Zone
from tracking.observation import Observation
from tracking.services import format_polygon
from tracking.simulate import RadioModel, RadioSim, Walker

INJECTED = {"gw-ward-a": 6.0, "gw-equip": -4.0, "gw-rad": 8.0}  # dB each gateway reads hot (+) or cold (-)
ROUTE = ["ICU-1", "ICU-2", "OR-1", "WARD-A", "EQUIP", "SOILED", "PHARM", "ER-1", "RAD", "WARD-B", "EXIT"]
CORRIDOR_Y = 8.0


@dataclass(frozen=True)
class SimWalk:
    walker: Walker
    taps: list[tuple[float, str]]  # (seconds from the start, room) as the walker crosses into each room
    end_s: float


def biased(observations: Iterable[Observation], bias: dict[str, float]) -> Iterator[Observation]:
    for obs in observations:
        yield obs._replace(rssi=round(obs.rssi + bias.get(obs.gateway_id, 0.0)))


def walk_through(plan: FloorPlan, tag_key: str, route: list[str] = ROUTE, stand_s: float = 40.0) -> SimWalk:
    """Through the corridor to each room's middle, `stand_s` there; taps where the walker enters each room."""
    waypoints: list[tuple[float, float, float]] = []
    for code in route:
        cx, cy = plan.zone(code).centre
        if waypoints:
            waypoints += [(waypoints[-1][0], CORRIDOR_Y, 0.0), (cx, CORRIDOR_Y, 0.0)]
        waypoints.append((cx, cy, stand_s))
    walker = Walker(tag_key, waypoints, speed_mps=1.0)
    taps: list[tuple[float, str]] = []
    t, previous = 0.0, None
    while t < walker.end_s:
        here = plan.zone_at(*walker.position(t))
        if here != previous and here in route and (not taps or taps[-1][1] != here):
            taps.append((round(t, 1), here))
        previous = here
        t += 0.1
    return SimWalk(walker, taps, walker.end_s)


def heard(plan: FloorPlan, walk: SimWalk, seed: int = 5, start: float = 0.0) -> list[Observation]:
    """Every advert of the walk as the gateways report it (with the injected bias), times offset by `start`."""
    radio = RadioModel(sigma_db=3.5)
    found = biased(RadioSim(plan, [walk.walker], radio, seed=seed).run(0.0, walk.end_s), INJECTED)
    return [obs._replace(at=obs.at + start) for obs in found]


def seed_plan(session: Session, plan: FloorPlan, site_code: str = "NORTH") -> dict[str, int]:
    """The floor plan's zones (on one site) and gateways as rows; returns zone code -> id. Caller commits."""
    site = Site(code=site_code, name=f"{site_code.title()} hospital")
    session.add(site)
    session.flush()
    zones = {
        z.code: Zone(code=z.code, name=z.name, kind=z.kind, building=plan.building, floor=plan.floor,
                     polygon=format_polygon(z.polygon), site_id=site.id,
                     max_radius_m=z.max_radius_m if z.kind != "corridor" else None)
        for z in plan.zones
    }  # fmt: skip
    session.add_all(zones.values())
    session.flush()
    for g in plan.gateways:
        session.add(Gateway(gateway_id=g.gateway_id, zone_id=zones[g.zone].id, x=g.x, y=g.y))
    session.flush()
    return {code: z.id for code, z in zones.items()}
