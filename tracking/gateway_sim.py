"""Simulated third-party gateways: each publishes what the radio simulation hears in its own shape.

- `TheengsPublisher`: OpenMQTTGateway/Theengs JSON on `home/<gateway>/BTtoMQTT/<MAC>` (raw manufacturerdata /
  servicedata, as with `pubadvdata`), `home/<gateway>/LWT` online and a `SYStoMQTT` record every 30 s;
- `MinewPublisher`: one Minew-style JSON array per gateway per round (the `Gateway` record, then `rawData`
  records) POSTed to `/api/v1/gateways/<id>/minew` with the gateway token;
- `IngicsPublisher`: `$GPRP` lines plus a `$HBRP` heartbeat per gateway per round, POSTed as text to
  `/api/v1/gateways/<id>/ingics` or published on `ingics/<gateway>`;
- `MixedPublisher`: each gateway through the publisher of its kind (the demo runs one gateway of each).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_bridge.ble.encode import eddystone_tlm_advert, ibeacon_advert, parse_ibeacon_key
from tracking.observation import Observation
from tracking.simrun import HttpPublisher, MqttPublisher, Publisher

log = logging.getLogger(__name__)
SYSTEM_EVERY_S = 30.0


def tag_address(tag_key: str) -> str:
    """A simulated tag's fixed address, `02:00:00:00:MM:mm` (as the raw-advert HTTP publisher uses)."""
    _uuid, major, minor = parse_ibeacon_key(tag_key)
    return f"02:00:00:00:{major & 0xFF:02X}:{minor & 0xFF:02X}"


def gateway_mac(gateway_id: str) -> str:
    """A stable made-up MAC for a simulated gateway (Minew and Ingics records carry the gateway's own)."""
    digest = sum((i + 1) * ord(c) for i, c in enumerate(gateway_id)) & 0xFFFFFF
    return f"AC233FC{digest:06X}"[:12]


def raw_advert(obs: Observation) -> bytes:
    """The advert the tag sent: iBeacon, or the TLM frame the simulator stands for a battery reading."""
    if obs.battery_mv is not None:
        return eddystone_tlm_advert(obs.battery_mv, obs.temperature_c or 0.0)
    uuid_hex, major, minor = parse_ibeacon_key(obs.tag_key)
    return ibeacon_advert(uuid_hex, major, minor, obs.ref_power or -59)


def _mqtt_client(host: str, port: int) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    return client


class TheengsPublisher:
    def __init__(self, host: str, port: int, prefix: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.prefix, self.clock = prefix, clock
        self.client = _mqtt_client(host, port)
        self._system_due: dict[str, float] = {}

    def message(self, obs: Observation) -> tuple[str, dict[str, object]]:
        address = tag_address(obs.tag_key)
        raw = raw_advert(obs)
        body: dict[str, object] = {"id": address, "mac_type": 0, "adv_type": 0, "rssi": obs.rssi}
        if obs.battery_mv is not None:  # flags, UUID list, then 16 AA FE <frame>
            body.update(servicedatauuid="0xfeaa", servicedata=raw[11:].hex())
        else:  # flags, then 1A FF <company LE> <payload>
            body["manufacturerdata"] = raw[5:].hex()
        return f"{self.prefix}home/{obs.gateway_id}/BTtoMQTT/{address.replace(':', '')}", body

    def publish(self, observations: list[Observation]) -> None:
        for obs in observations:
            topic, body = self.message(obs)
            self.client.publish(topic, json.dumps(body))
            if self.clock() >= self._system_due.get(obs.gateway_id, 0.0):
                if obs.gateway_id not in self._system_due:
                    self.client.publish(f"{self.prefix}home/{obs.gateway_id}/LWT", "online")
                self._system_due[obs.gateway_id] = self.clock() + SYSTEM_EVERY_S
                system = {"uptime": 120, "version": "vendtrack-sim", "freemem": 146228, "rssi": -66}
                self.client.publish(f"{self.prefix}home/{obs.gateway_id}/SYStoMQTT", json.dumps(system))

    def close(self) -> None:
        for gateway_id in self._system_due:
            self.client.publish(f"{self.prefix}home/{gateway_id}/LWT", "offline")
        self.client.loop_stop()
        self.client.disconnect()


class _HttpPoster:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token
        self.failures = 0
        self._warned_at = -1e9

    def post(self, path: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, method="POST", headers={
            "Content-Type": content_type, "Authorization": f"Bearer {self.token}"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except OSError as exc:
            self.failures += 1
            if time.monotonic() - self._warned_at > 30:  # a server still starting: say so once, not per batch
                self._warned_at = time.monotonic()
                log.warning("gateway upload to %s failed (%d failures so far): %s", path, self.failures, exc)


def _by_gateway(observations: list[Observation]) -> dict[str, list[Observation]]:
    found: dict[str, list[Observation]] = {}
    for obs in observations:
        found.setdefault(obs.gateway_id, []).append(obs)
    return found


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MinewPublisher:
    def __init__(self, base_url: str, token: str) -> None:
        self.poster = _HttpPoster(base_url, token)

    @staticmethod
    def upload(gateway_id: str, observations: list[Observation]) -> list[dict[str, object]]:
        now = observations[-1].at if observations else time.time()
        records: list[dict[str, object]] = [{"timestamp": _iso(now), "type": "Gateway", "mac": gateway_mac(gateway_id),
                                             "gatewayFree": 93, "gatewayLoad": 0.12}]  # fmt: skip
        for obs in observations:
            address = tag_address(obs.tag_key).replace(":", "")
            records.append({"timestamp": _iso(obs.at), "type": "Unknown", "mac": address, "bleName": "",
                            "rssi": obs.rssi, "rawData": raw_advert(obs).hex().upper()})  # fmt: skip
        return records

    def publish(self, observations: list[Observation]) -> None:
        for gateway_id, heard in _by_gateway(observations).items():
            body = json.dumps(self.upload(gateway_id, heard)).encode()
            self.poster.post(f"/api/v1/gateways/{gateway_id}/minew", body, "application/json")

    def close(self) -> None:
        return None


class IngicsPublisher:
    """Over HTTP (`base_url` and `token`) or MQTT (`mqtt_host`, `mqtt_port`, `prefix`)."""

    def __init__(self, base_url: str = "", token: str = "", mqtt_host: str = "", mqtt_port: int = 1883,
                 prefix: str = "") -> None:  # fmt: skip
        self.poster = _HttpPoster(base_url, token) if base_url else None
        self.client = _mqtt_client(mqtt_host, mqtt_port) if mqtt_host else None
        self.prefix = prefix

    @staticmethod
    def lines(gateway_id: str, observations: list[Observation]) -> str:
        gw = gateway_mac(gateway_id)
        out = [f"$GPRP,{tag_address(o.tag_key).replace(':', '')},{gw},{o.rssi},{raw_advert(o).hex().upper()},"
               f"{int(o.at)}" for o in observations]  # fmt: skip
        out.append(f"$HBRP,{gw},{gw},-127,00000000")
        return "\r\n".join(out) + "\r\n"

    def publish(self, observations: list[Observation]) -> None:
        for gateway_id, heard in _by_gateway(observations).items():
            text = self.lines(gateway_id, heard)
            if self.client is not None:
                self.client.publish(f"{self.prefix}ingics/{gateway_id}", text)
            elif self.poster is not None:
                self.poster.post(f"/api/v1/gateways/{gateway_id}/ingics", text.encode(), "text/plain")

    def close(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()


class MixedPublisher:
    """Sends each gateway's observations through the publisher of that gateway's kind (`default` for the rest)."""

    def __init__(self, default: Publisher, by_gateway: dict[str, Publisher]) -> None:
        self.default, self.by_gateway = default, by_gateway

    def publish(self, observations: list[Observation]) -> None:
        split: dict[int, tuple[Publisher, list[Observation]]] = {}
        for obs in observations:
            publisher = self.by_gateway.get(obs.gateway_id, self.default)
            split.setdefault(id(publisher), (publisher, []))[1].append(obs)
        for publisher, batch in split.values():
            publisher.publish(batch)

    def close(self) -> None:
        for publisher in {id(p): p for p in (self.default, *self.by_gateway.values())}.values():
            publisher.close()


FORMATS = ("espresense", "batch", "theengs", "minew", "ingics")


def make_publisher(fmt: str, mqtt_url: str | None, prefix: str, http_url: str | None, token: str) -> Publisher:
    """The simulated gateway of one format; raises ValueError with what to add when a destination is missing."""
    host, _, port = (mqtt_url or "").partition(":")
    broker = (host, int(port or 1883))
    if http_url and not token:
        raise ValueError("--http needs --token: create one with `vendtrack token create NAME --scope gateway`")
    if fmt in ("espresense", "theengs") or (fmt == "ingics" and mqtt_url):
        if not mqtt_url:
            raise ValueError(f"{fmt} gateways publish over MQTT: add --mqtt 127.0.0.1:1883")
        if fmt == "ingics":
            return IngicsPublisher(mqtt_host=broker[0], mqtt_port=broker[1], prefix=prefix)
        return MqttPublisher(*broker, prefix) if fmt == "espresense" else TheengsPublisher(*broker, prefix)
    if not http_url:
        raise ValueError(f"{fmt} gateways upload over HTTP: add --http http://127.0.0.1:5000 --token ...")
    if fmt == "minew":
        return MinewPublisher(http_url, token)
    if fmt == "ingics":
        return IngicsPublisher(http_url, token)
    return HttpPublisher(http_url, token)


def demo_mix(default: Publisher, gateway_ids: list[str], base_url: str, token: str,
             broker: tuple[str, int, str] | None) -> tuple[MixedPublisher, str]:  # fmt: skip
    """The demo's gateways: one of each third-party kind among `gateway_ids`, `default` for the others.

    With a broker (host, port, prefix): Theengs over MQTT, Minew over HTTP, Ingics over HTTP and over MQTT;
    without: Minew and Ingics over HTTP. Returns the publisher and a note saying which gateway is which."""
    kinds: list[tuple[str, Publisher]] = []
    if broker is not None:
        host, port, prefix = broker
        kinds.append(("Theengs/OpenMQTTGateway (MQTT)", TheengsPublisher(host, port, prefix)))
    kinds.append(("Minew (HTTP)", MinewPublisher(base_url, token)))
    kinds.append(("Ingics (HTTP)", IngicsPublisher(base_url, token)))
    if broker is not None:
        kinds.append(("Ingics (MQTT)", IngicsPublisher(mqtt_host=broker[0], mqtt_port=broker[1], prefix=broker[2])))
    chosen = dict(zip(gateway_ids, kinds, strict=False))
    note = ", ".join(f"{gateway} as {kind}" for gateway, (kind, _p) in chosen.items())
    return MixedPublisher(default, {gateway: p for gateway, (_kind, p) in chosen.items()}), note
