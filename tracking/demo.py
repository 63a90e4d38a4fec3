"""Tracking demo: Ward 3 East with 12 zones, 11 gateways and 60 tagged assets that move, timed faults that raise
every alert kind (tracking.demo_script), 12 hours of trend history; and the smoke flow."""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.models import Site
from core.roles import TokenScope
from core.runtime import BackgroundWorker, DemoContext, SmokeResult
from core.users import create_token
from tracking.cli import demo_tag_key
from tracking.demo_script import DEMO_MISSING_AFTER_S, DemoScript
from tracking.espresense_smoke import espresense_step
from tracking.floorplan import demo_floor, distance
from tracking.gateway_sim import demo_mix
from tracking.models import Asset, AssetType, Gateway, ParRule, Tag, TrendSample, Zone
from tracking.pipeline import EXTRAS_KEY, Pipeline, TrackingSettings, pipeline_for
from tracking.runtime import MqttWorker, broker_config, broker_reachable, mqtt_consumer
from tracking.services import format_polygon
from tracking.simrun import HttpPublisher, LiveSimulator, MqttPublisher, Publisher, wander
from tracking.simulate import Walker

ZONE_UNITS = {  # i18n: demo data, as typed
    "ICU-1": "ICU",
    "ICU-2": "ICU",
    "OR-1": "Surgery",
    "WARD-A": "Ward 3E",
    "WARD-B": "Ward 3E",
    "ER-1": "Emergency",
}
FLEET = [  # i18n: demo data, as typed; (asset type, display name, how many)
    ("infusion_pump", "Infusion pump", 20),
    ("wheelchair", "Wheelchair", 10),
    ("ventilator", "Ventilator", 8),
    ("ecg_monitor", "ECG monitor", 8),
    ("feeding_pump", "Feeding pump", 6),
    ("bladder_scanner", "Bladder scanner", 4),
    ("defibrillator", "Defibrillator", 4),
]
UNITS = ["ICU", "Ward 3E", "Emergency", "Surgery"]  # i18n: demo data, as typed
PAR = [  # i18n: demo data, as typed
    ("ICU", "infusion_pump", 4),
    ("Ward 3E", "infusion_pump", 4),
    ("Emergency", "wheelchair", 2),
    ("ICU", "ventilator", 4),  # 3 clean ventilators on site: short after every move, so purchasing is asked
]
STATE_KEY = "tracking.simulator"
REAL_TOPICS_KEY = "tracking.espresense_topics"  # set by `vendtrack demo --espresense` (and --smoke)
TAG_COUNT = sum(count for _type, _label, count in FLEET)
# The tagged tool of the custody story (web.demo_custody): vending's torque wrench TW-001 carries tag 61 and
# rests in the equipment store beside the locker; the operating theatre is a must-return (FOD) zone.
WRENCH_TAG = TAG_COUNT + 1
WRENCH = ("TW-001", "Torque wrench 20-100 Nm", "torque_wrench")  # i18n: demo data, as typed
WRENCH_HOME = "EQUIP"
FOD_ZONE, DEMO_FOD_LIMIT_MIN = "OR-1", 1
DEMO_PURCHASE_AFTER_S = 90.0  # a PAR shortfall becomes a purchase request after 90 s in the demo (3 days live)


def seed(session: Session, demo: DemoContext) -> None:

    plan = demo_floor()
    site_id = demo.site_id if session.get(Site, demo.site_id) is not None else None  # alerts are routed per site
    zones: dict[str, Zone] = {}
    for z in plan.zones:
        zones[z.code] = Zone(
            code=z.code,
            name=z.name,
            building=plan.building,
            floor=plan.floor,
            kind=z.kind,
            polygon=format_polygon(z.polygon),
            max_radius_m=z.max_radius_m if z.kind != "corridor" else None,
            unit=ZONE_UNITS.get(z.code, "Clinical Engineering"),
            site_id=site_id,
            fod_limit_min=DEMO_FOD_LIMIT_MIN if z.code == FOD_ZONE else None,
        )
    session.add_all(zones.values())
    session.flush()
    for g in plan.gateways:
        session.add(Gateway(gateway_id=g.gateway_id, zone_id=zones[g.zone].id, x=g.x, y=g.y, offset_db=g.offset_db))
    rng = random.Random(3)
    number = 0
    session.add_all(AssetType(code=code, label=label, plural=f"{label}s") for code, label, _count in FLEET)
    for asset_type, label, count in FLEET:
        for i in range(1, count + 1):
            number += 1
            tag = Tag(tag_key=demo_tag_key(number))
            session.add(tag)
            session.flush()
            status = rng.choices(["clean", "dirty", "in_use", "maintenance"], weights=[6, 2, 2, 1])[0]
            session.add(
                Asset(
                    asset_tag=f"A-{number:04d}",
                    name=f"{label} {i}",
                    asset_type=asset_type,
                    serial=f"SN{rng.randrange(10**7, 10**8)}",
                    unit=UNITS[number % len(UNITS)],
                    status=status,
                    home_zone_id=zones["EQUIP"].id,
                    tag_id=tag.id,
                )
            )
    _seed_wrench(session, zones[WRENCH_HOME].id)
    for unit, asset_type, minimum in PAR:
        session.add(ParRule(unit=unit, asset_type=asset_type, minimum=minimum))
    session.flush()
    _trend_history(session, demo, rng)
    plain, _ = create_token(session, "demo-ble-gateways", [TokenScope.GATEWAY], actor="demo")
    demo.state["tracking.gateway_token"] = plain


def _seed_wrench(session: Session, home_zone_id: int) -> None:
    serial, name, asset_type = WRENCH
    tag = Tag(tag_key=demo_tag_key(WRENCH_TAG))
    session.add_all([tag, AssetType(code=asset_type, label="Torque wrench", plural="Torque wrenches")])
    session.flush()
    session.add(Asset(asset_tag=serial, name=name, asset_type=asset_type, serial=serial, unit="Clinical Engineering",
                      status="clean", home_zone_id=home_zone_id, tag_id=tag.id))  # fmt: skip


def _trend_history(session: Session, demo: DemoContext, rng: random.Random, hours: int = 12) -> None:
    """Samples for the last `hours`, every 10 minutes: statuses and availability wander around today's counts
    with a day-shift bump in use, so the PAR and utilisation charts have a past to show."""
    now = demo.services.clock.now()
    counts = session.execute(
        select(Asset.unit, Asset.asset_type, Asset.status, func.count(Asset.id)).group_by(
            Asset.unit, Asset.asset_type, Asset.status
        )
    ).all()  # fmt: skip
    for step in range(hours * 6, 0, -1):
        at = now - timedelta(minutes=10 * step)
        busy = 0.5 + 0.5 * math.sin(math.pi * (at.hour - 7) / 12) if 7 <= at.hour <= 19 else 0.2
        by_type: dict[tuple[str, str], int] = {}
        for _unit, asset_type, status, count in counts:
            shift = round(count * (busy - 0.5) * 0.6 + rng.uniform(-0.6, 0.6))
            value = max(0, count + (shift if status == "in_use" else -shift if status == "clean" else 0))
            by_type[(asset_type, status)] = by_type.get((asset_type, status), 0) + value
        for (asset_type, status), value in by_type.items():
            session.add(TrendSample(at=at, series="status", asset_type=asset_type, key=status, value=value))
        for unit, asset_type, minimum in PAR:
            clean = sum(c for u, t, s, c in counts if u == unit and t == asset_type and s == "clean")
            value = max(0, clean + round((0.5 - busy) * 3 + rng.uniform(-1, 1)))
            session.add(TrendSample(at=at, series="par", unit=unit, asset_type=asset_type, value=value, target=minimum))


def _demo_pipeline(services: Any) -> Pipeline:
    """The app's pipeline with the demo's short "missing after" (unless the environment sets one)."""
    if EXTRAS_KEY not in services.extras:
        settings = TrackingSettings.from_extra(services.settings.extra)
        if "tracking_missing_after_s" not in services.settings.extra:
            settings = replace(settings, missing_after_s=DEMO_MISSING_AFTER_S)
        if "tracking_par_purchase_after_s" not in services.settings.extra:
            settings = replace(settings, par_purchase_after_s=DEMO_PURCHASE_AFTER_S)
        services.extras[EXTRAS_KEY] = Pipeline(services.session_factory, services.clock, settings=settings)
    return pipeline_for(services)


def demo_simulator(publisher: Publisher, clock: Callable[[], float] = time.time) -> LiveSimulator:
    """The demo's 60 wandering tags with its timed faults, publishing through `publisher`, on `clock`."""

    plan, now, rng = demo_floor(), clock(), random.Random(11)
    walkers = [wander(plan, demo_tag_key(n), rng, now) for n in range(1, TAG_COUNT + 1)]
    home = plan.zone(WRENCH_HOME).centre
    walkers.append(Walker(demo_tag_key(WRENCH_TAG), [(home[0], home[1], 1e9)], start_s=now))  # in its locker
    return LiveSimulator(plan, walkers, publisher, seed=5, clock=clock, script=DemoScript(TAG_COUNT))


def start(demo: DemoContext) -> list[BackgroundWorker]:
    services = demo.services
    pipeline = _demo_pipeline(services)
    pipeline.refresh_floor(force=True)
    workers: list[BackgroundWorker] = []
    host, port = services.settings.mqtt_host, services.settings.mqtt_port
    publisher: Publisher
    if broker_reachable(host, port):
        prefix = f"vtdemo-{os.getpid()}-{secrets.token_hex(3)}/"  # private topics: demos and tests never collide
        broker = broker_config(services.settings)
        consumer = mqtt_consumer(pipeline, broker, prefix=prefix, group=f"vtdemo{secrets.token_hex(3)}")
        workers.append(MqttWorker(consumer))
        publisher = MqttPublisher(host, port, prefix)
        demo.notes.append(f"BLE simulator: {WRENCH_TAG} tags via MQTT {host}:{port} (topics under {prefix})")
        if demo.state.get(REAL_TOPICS_KEY):  # `vendtrack demo --espresense`: real nodes are heard as well
            real = MqttWorker(mqtt_consumer(pipeline, broker, group=f"vtdemo{secrets.token_hex(3)}"))
            real.name += "-espresense"
            workers.append(real)
            rooms = ", ".join(g.gateway_id for g in demo_floor().gateways[:4])
            demo.notes.append(f"ESPresense: listening to the real topics espresense/devices/<id>/<room> and "
                              f"espresense/rooms/<room>/status on {host}:{port}; a node's room name must be a "
                              f"gateway id ({rooms}, …)")  # fmt: skip
    else:
        publisher = HttpPublisher(demo.base_url, demo.state["tracking.gateway_token"])
        demo.notes.append(
            f"BLE simulator: {WRENCH_TAG} tags via the HTTP gateway endpoint (no MQTT broker at {host}:{port})"
        )
    broker_at = (host, port, prefix) if isinstance(publisher, MqttPublisher) else None
    thirds = [g.gateway_id for g in demo_floor().gateways[1:5]]  # one gateway of each third-party kind
    publisher, which = demo_mix(publisher, thirds, demo.base_url, demo.state["tracking.gateway_token"], broker_at)
    demo.notes.append(f"BLE gateways in other formats: {which}")
    simulator = demo_simulator(publisher)
    demo.state[STATE_KEY] = simulator
    workers.append(simulator)
    return workers


def _get_json(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def smoke_flow(demo: DemoContext, deadline_s: float = 90.0) -> SmokeResult:
    """An asset walks into the nearest other room; the locate API must report that room before the deadline."""

    simulator: LiveSimulator = demo.state[STATE_KEY]
    with unit_of_work(demo.services.session_factory) as session:
        token, _ = create_token(session, "tracking-smoke", [TokenScope.READ], actor="demo")
        asset = session.query(Asset).filter(Asset.asset_tag == "A-0001").one()
        asset_id = asset.id
    plan = demo_floor()
    here = simulator.walkers[demo_tag_key(1)].position(time.time())
    rooms = [z for z in plan.zones if z.kind == "room" and plan.zone_at(*here) != z.code]
    target = min(rooms, key=lambda z: distance(here, z.centre)).code
    simulator.send_to(demo_tag_key(1), target)
    started = time.monotonic()
    body: Any = {}
    while time.monotonic() - started < deadline_s:
        status, body = _get_json(f"{demo.base_url}/api/v1/assets/{asset_id}/location", token)
        if status == 200 and body["location"]["zone"] == target:
            took = time.monotonic() - started
            walked = SmokeResult(True, f"A-0001 walked to {target}; locate API reported it after {took:.0f} s")
            return _with_espresense(demo, token, walked)
        time.sleep(1.0)
    return SmokeResult(False, f"A-0001 sent to {target} but the API still says {body.get('location', {}).get('zone')}")


def _with_espresense(demo: DemoContext, token: str, walked: SmokeResult) -> SmokeResult:
    """Add the real-topic ESPresense step when the demo listens to those topics (--espresense, --smoke)."""
    if not demo.state.get(REAL_TOPICS_KEY) or STATE_KEY not in demo.state:
        return walked
    settings = demo.services.settings
    if not broker_reachable(settings.mqtt_host, settings.mqtt_port):
        return SmokeResult(True, f"{walked.detail}; ESPresense step skipped: no MQTT broker")

    step = espresense_step(demo, lambda path: _get_json(demo.base_url + path, token))
    return SmokeResult(step.ok, f"{walked.detail}; {step.detail}")
