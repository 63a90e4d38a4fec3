"""The gateway formats' MQTT routes through the real Mosquitto: Theengs/OpenMQTTGateway, Ingics and Minew topics reach
the engine, their health records reach "gateway down", and bad messages are counted while good ones arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.tracking.conftest import advert_hex, tag_key
from tests.tracking.mosquitto import BROKER, Mosquitto
from tests.tracking.sources.test_mqtt import Sink, _wait


@pytest.fixture
def client() -> Iterator[mqtt.Client]:
    found = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    found.connect(*BROKER)
    found.loop_start()
    yield found
    found.loop_stop()
    found.disconnect()


def _send(client: mqtt.Client, topic: str, payload: str | bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def test_theengs_and_ingics_topics_over_mosquitto(mosquitto: Mosquitto, client: mqtt.Client) -> None:
    sink, prefix = Sink(), mosquitto.prefix
    consumer = mosquitto.consumer(sink.ingest, sink.gateway_status, group=None)
    try:
        raw = {"id": "AA:00:00:00:00:01", "mac_type": 0, "rssi": -61, "manufacturerdata": advert_hex(1)[10:]}
        _send(client, f"{prefix}home/gw-a/BTtoMQTT/AA0000000001", json.dumps(raw))
        decoded = {"id": "AA:00:00:00:00:02", "rssi": -70, "brand": "GENERIC", "model": "iBeacon",
                   "model_id": "IBEACON", "mfid": "4c00", "uuid": "e2c56db5dffb48d2b060d0f5a71096e0",
                   "major": 1, "minor": 2, "txpower": -59}  # fmt: skip
        _send(client, f"{prefix}home/gw-a/BTtoMQTT/AA0000000002", json.dumps(decoded))
        _send(client, f"{prefix}home/gw-a/BTtoMQTT/AA0000000009", '{"id": "AA:00:00:00:00:09", "rssi": "loud"}')
        _send(client, f"{prefix}home/gw-b/LWT", "offline")
        _send(client, f"{prefix}home/gw-a/SYStoMQTT", '{"uptime": 7355, "freemem": 146228}')
        lines = f"$GPRP,AA0000000003,F008D1798C60,-58,{advert_hex(3)}\r\n$HBRP,F008D1798C60,F008D1798C60,-127,00000000"
        _send(client, f"{prefix}ingics/gw-x", lines)
        _send(client, f"{prefix}ingics/gw-x", "$GPRP,AA0000000004,F008D1798C60,-58,zz")
        _send(client, f"{prefix}ingics/gw-x", "$HBRP,F008D1798C60,F008D1798C60,-127,00000000")  # heartbeat alone
        minew_upload = [{"type": "Gateway", "mac": "AC233FC001EA"},
                        {"type": "Unknown", "mac": "AA0000000005", "rssi": -66, "rawData": advert_hex(5)},
                        {"type": "Unknown", "mac": "AA0000000006", "rssi": "x", "rawData": advert_hex(6)}]  # fmt: skip
        _send(client, f"{prefix}minew/gw-b", json.dumps(minew_upload))
        _wait(lambda: len(sink.observations) == 4 and len(sink.status) == 3 and consumer.malformed == 2)
        assert sorted((o.gateway_id, o.tag_key) for o in sink.observations) == [
            ("gw-a", tag_key(1)), ("gw-a", tag_key(2)), ("gw-b", tag_key(5)), ("gw-x", tag_key(3))]  # fmt: skip
        assert sorted(sink.status) == [("gw-a", True), ("gw-b", False), ("gw-x", True)]
        counted = consumer.counters
        assert counted["rejected:rssi:wrong_type"] == 1 and counted["rejected:data:bad_format"] == 1
        assert counted["unknown_topic"] == 0
    finally:
        consumer.stop()
