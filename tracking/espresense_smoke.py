"""Smoke step: a message on the real ESPresense topic layout (`espresense/devices/<id>/<room>`, no prefix) places
a freshly tagged asset in the room of the node that heard it, as a real node pointed at the demo would.

A new iBeacon id per run, so demos and tests sharing the broker never move each other's assets.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.db import unit_of_work
from core.runtime import DemoContext, SmokeResult
from tracking.models import Asset, Gateway, Tag, Zone


def espresense_step(
    demo: DemoContext, get_json: Callable[[str], tuple[int, Any]], deadline_s: float = 30.0
) -> SmokeResult:
    beacon = str(uuid.uuid4())
    device_id = f"iBeacon:{beacon}-100-1"
    tag_key = f"ib-{beacon.replace('-', '')}-100-1"
    with unit_of_work(demo.services.session_factory) as session:
        gateway = session.query(Gateway).order_by(Gateway.gateway_id).first()
        if gateway is None:
            return SmokeResult(False, "the demo has no gateway to name as the ESPresense room")
        zone_code = session.get(Zone, gateway.zone_id).code  # type: ignore[union-attr]
        tag = Tag(tag_key=tag_key)
        session.add(tag)
        session.flush()
        asset = Asset(asset_tag=f"ESP-{beacon[:8]}", name="ESPresense smoke pump", asset_type="infusion_pump",
                      serial=beacon[:12], unit="ICU", status="clean", tag_id=tag.id)  # fmt: skip
        session.add(asset)
        session.flush()
        asset_id, room = asset.id, gateway.gateway_id
    settings = demo.services.settings
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=30)
    client.loop_start()
    topic = f"espresense/devices/{device_id}/{room}"
    started = time.monotonic()
    body: Any = {}
    try:
        while time.monotonic() - started < deadline_s:
            payload = {"id": device_id, "rssi": -58, "rssi@1m": -59, "distance": 1.1, "int": 1000}
            client.publish(topic, json.dumps(payload))
            status, body = get_json(f"/api/v1/assets/{asset_id}/location")
            if status == 200 and (body.get("location") or {}).get("zone") == zone_code:
                return SmokeResult(
                    True,
                    f"ESPresense message on {topic.split('/')[0]}/devices/<id>/{room} placed "
                    f"a new tag in {zone_code} after {time.monotonic() - started:.0f} s",
                )
            time.sleep(0.5)
    finally:
        client.loop_stop()
        client.disconnect()
    where = (body.get("location") or {}).get("zone") if isinstance(body, dict) else None
    return SmokeResult(False, f"ESPresense message on {topic} but the API says the tag is in {where}")
