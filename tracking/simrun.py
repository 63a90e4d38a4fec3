"""The live BLE simulator: moves tagged assets through a floor plan in real time and publishes what gateways hear.

Publishes ESPresense-style JSON to MQTT, or raw-advert batches to the gateway HTTP endpoint.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.request
import uuid as uuidlib
from collections.abc import Callable
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_bridge.ble.encode import eddystone_tlm_advert, ibeacon_advert, parse_ibeacon_key
from tracking.floorplan import FloorPlan
from tracking.observation import Observation
from tracking.simulate import RadioModel, RadioSim, Walker

log = logging.getLogger(__name__)
CORRIDOR_Y = 8.0


class Publisher(Protocol):
    def publish(self, observations: list[Observation]) -> None: ...

    def close(self) -> None: ...


def espresense_id(tag_key: str) -> str:
    uuid_hex, major, minor = parse_ibeacon_key(tag_key)
    return f"iBeacon:{uuidlib.UUID(hex=uuid_hex)}-{major}-{minor}"


class MqttPublisher:
    """One ESPresense message per observation on `<prefix>espresense/devices/<id>/<gateway>`."""

    def __init__(self, host: str, port: int, prefix: str = "") -> None:
        self.prefix = prefix
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        self._ids: dict[str, str] = {}

    def publish(self, observations: list[Observation]) -> None:
        for obs in observations:
            device = self._ids.get(obs.tag_key) or self._ids.setdefault(obs.tag_key, espresense_id(obs.tag_key))
            payload: dict[str, object] = {"id": device, "rssi": obs.rssi, "int": 1000}
            if obs.ref_power is not None:
                payload["rssi@1m"] = obs.ref_power
            if obs.battery_mv is not None:
                payload["mV"] = obs.battery_mv
            self.client.publish(f"{self.prefix}espresense/devices/{device}/{obs.gateway_id}", json.dumps(payload))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class HttpPublisher:
    """Raw iBeacon adverts as hex, one POST per gateway per round, with a gateway bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token
        self.failures = 0
        self._warned_at = -1e9

    def publish(self, observations: list[Observation]) -> None:
        by_gateway: dict[str, list[dict[str, object]]] = {}
        for obs in observations:
            uuid_hex, major, minor = parse_ibeacon_key(obs.tag_key)
            if obs.battery_mv is not None:  # a TLM frame from the same address, tied to the tag by the server
                raw = eddystone_tlm_advert(obs.battery_mv, obs.temperature_c or 0.0)
            else:
                raw = ibeacon_advert(uuid_hex, major, minor, obs.ref_power or -59)
            address = f"02:00:00:00:{major & 0xFF:02X}:{minor & 0xFF:02X}"
            by_gateway.setdefault(obs.gateway_id, []).append({"address": address, "rssi": obs.rssi, "data": raw.hex()})
        for gateway_id, adverts in by_gateway.items():
            request = urllib.request.Request(
                f"{self.base_url}/api/v1/gateways/{gateway_id}/adverts",
                data=json.dumps({"adverts": adverts}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
            except OSError as exc:
                self.failures += 1
                if time.monotonic() - self._warned_at > 30:  # a server still starting: say so once, not per batch
                    self._warned_at = time.monotonic()
                    log.warning("gateway batch for %s failed (%d failures so far): %s", gateway_id, self.failures, exc)

    def close(self) -> None:
        return None


def wander(plan: FloorPlan, tag_key: str, rng: random.Random, start: float, legs: int = 200) -> Walker:
    """A scripted walk: from room to random room through the corridor, pausing 40–240 s in each."""
    rooms = [z for z in plan.zones if z.kind in ("room", "soiled_utility")]
    here = rng.choice(rooms)
    x, y = here.centre[0] + rng.uniform(-2, 2), here.centre[1] + rng.uniform(-1.5, 1.5)
    points = [(x, y, rng.uniform(20, 240))]
    for _ in range(legs):
        points.extend(_route(points[-1][:2], rng.choice(rooms).centre, rng, rng.uniform(40, 240)))
    return Walker(tag_key, points, start_s=start, interval_s=rng.choice((1.0, 1.0, 2.0)))


def _route(
    start: tuple[float, float], goal: tuple[float, float], rng: random.Random, pause: float
) -> list[tuple[float, float, float]]:
    gx, gy = goal[0] + rng.uniform(-2, 2), goal[1] + rng.uniform(-1.5, 1.5)
    return [(start[0], CORRIDOR_Y, 0.0), (gx, CORRIDOR_Y, 0.0), (gx, gy, pause)]


class Faults:
    """What the demo script has broken: silent tags, stopped gateways, and tag batteries (sent as TLM frames)."""

    TLM_EVERY_S = 10.0  # a tag's telemetry frame interval

    def __init__(self) -> None:
        self.silent_tags: set[str] = set()
        self.stopped_gateways: set[str] = set()
        self.battery: dict[str, Callable[[float], int]] = {}  # tag key -> battery mV at time t
        self._tlm_due: dict[str, float] = {}

    def keep(self, obs: Observation) -> bool:
        return obs.tag_key not in self.silent_tags and obs.gateway_id not in self.stopped_gateways

    def telemetry(self, observations: list[Observation], now: float) -> list[Observation]:
        """One TLM observation per tag with a battery, every TLM_EVERY_S, from the gateway that heard it best."""
        best: dict[str, Observation] = {}
        for obs in observations:
            if obs.tag_key in self.battery and (obs.tag_key not in best or obs.rssi > best[obs.tag_key].rssi):
                best[obs.tag_key] = obs
        frames = []
        for tag_key, obs in best.items():
            if now >= self._tlm_due.get(tag_key, 0.0):
                self._tlm_due[tag_key] = now + self.TLM_EVERY_S
                mv = self.battery[tag_key](obs.at)
                frames.append(Observation(obs.gateway_id, tag_key, obs.rssi, None, mv, 21.5, obs.at))
        return frames


class LiveSimulator:
    """Advances the radio simulation with the wall clock on a thread, publishing every `period` seconds.

    `script(simulator, now)` runs before each step (the demo's timed faults); `faults` filters what is heard.
    """

    def __init__(
        self,
        plan: FloorPlan,
        walkers: list[Walker],
        publisher: Publisher,
        seed: int = 1,
        period: float = 0.5,
        clock: Callable[[], float] = time.time,
        script: Callable[[LiveSimulator, float], None] | None = None,
    ) -> None:
        self.plan, self.publisher, self.period, self.clock = plan, publisher, period, clock
        self.script, self.faults = script, Faults()
        self.walkers = {w.tag_key: w for w in walkers}
        self.sim = RadioSim(plan, walkers, RadioModel(), seed=seed)
        self.name = "tracking-ble-simulator"
        self.published = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = clock()

    def send_to(self, tag_key: str, zone_code: str, pause_s: float = 3600.0) -> None:
        """Script change: walk this tag to the middle of a zone now and stay there."""
        now = self.clock()
        with self._lock:
            walker = self.walkers[tag_key]
            here = walker.position(now)
            target = self.plan.zone(zone_code).centre
            route = [(target[0], CORRIDOR_Y, 0.0), (target[0], target[1], pause_s)]
            walker.replan([(here[0], here[1], 0.0), (here[0], CORRIDOR_Y, 0.0), *route], now)

    def step(self) -> int:
        now = self.clock()
        if self.script is not None:
            self.script(self, now)
        with self._lock:
            heard = [obs for obs in self.sim.run(self._last, now) if self.faults.keep(obs)]
            observations = heard + self.faults.telemetry(heard, now)
            self._last = now
        if observations:
            self.publisher.publish(observations)
            self.published += len(observations)
        return len(observations)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.step()
            except Exception:
                log.exception("BLE simulator step failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.publisher.close()
