"""MQTT source (paho-mqtt 2, MQTT 5): ESPresense device and room-status topics plus a raw-advert batch topic.

Several consumers share the load through a shared subscription (`$share/<group>/...`); paho reconnects
with exponential backoff; malformed payloads are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation
from tracking.sources.batch import BatchError, parse_batch
from tracking.sources.espresense import PayloadError, parse_device_message, parse_status

log = logging.getLogger(__name__)

DEVICES = "espresense/devices/+/+"
STATUS = "espresense/rooms/+/status"
RAW = "vendtrack/adverts/+"


class MqttConsumer:
    """Feeds `ingest(list[Observation])` and `gateway_status(gateway_id, online)` from the broker."""

    def __init__(
        self,
        ingest: Callable[[list[Observation]], Any],
        gateway_status: Callable[[str, bool], Any],
        ingest_one: Callable[[Observation], Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 1883,
        prefix: str = "",
        group: str | None = "vendtrack",
        clock: Callable[[], float] = time.time,
        backoff: tuple[int, int] = (1, 30),
    ) -> None:
        self.ingest, self.gateway_status, self.clock = ingest, gateway_status, clock
        self.ingest_one: Callable[[Observation], Any] = ingest_one or (lambda obs: ingest([obs]))
        self.host, self.port, self.prefix, self.group = host, port, prefix, group
        self._devices = prefix + "espresense/devices/"
        self._counts: Counter[str] = Counter()
        self.messages = self.observations = self.malformed = 0
        self.matcher = TelemetryMatcher()
        self.connected = False
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"vendtrack-{uuid.uuid4().hex[:10]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(min_delay=backoff[0], max_delay=backoff[1])
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def topics(self) -> list[str]:
        share = f"$share/{self.group}/" if self.group else ""
        return [share + self.prefix + topic for topic in (DEVICES, STATUS, RAW)]

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, reason)
            return
        self.connected = True
        self._counts["connects"] += 1
        client.subscribe([(topic, 0) for topic in self.topics()])

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Properties | None
    ) -> None:
        self.connected = False
        self._counts["disconnects"] += 1

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.handle(message.topic, bytes(message.payload))
        except Exception:  # one bad message must not end paho's network thread (nothing would be heard after it)
            self._counts["errors"] += 1
            log.exception("message on %s could not be handled", message.topic)

    @property
    def counters(self) -> Counter[str]:
        found = Counter(self._counts)
        found.update(messages=self.messages, observations=self.observations, malformed=self.malformed)
        return found

    def handle(self, topic: str, payload: bytes) -> None:
        """Route one message; public so tests and benchmarks can drive it without a broker."""
        self.messages += 1
        if topic.startswith(self._devices):  # the hot path: one ESPresense sighting
            device, _, gateway_id = topic[len(self._devices) :].partition("/")
            if device and gateway_id and "/" not in gateway_id:
                try:
                    obs = parse_device_message(gateway_id, payload, self.clock())
                except PayloadError:
                    self.malformed += 1
                    return
                self.ingest_one(obs)
                self.observations += 1
                return
        self._handle_other(topic, payload)

    def _handle_other(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(self.prefix):
            self._counts["unknown_topic"] += 1
            return
        parts = topic[len(self.prefix) :].split("/")
        try:
            if len(parts) == 4 and parts[0] == "espresense" and parts[1] == "rooms" and parts[3] == "status":
                self.gateway_status(parts[2], parse_status(payload))
            elif len(parts) == 3 and parts[0] == "vendtrack" and parts[1] == "adverts":
                self._raw_batch(parts[2], payload)
            else:
                self._counts["unknown_topic"] += 1
        except (PayloadError, BatchError) as exc:
            self.malformed += 1
            log.debug("skipped malformed message on %s: %s", topic, exc)

    def _raw_batch(self, gateway_id: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
        except ValueError:
            raise PayloadError("raw advert batch is not JSON") from None
        result = parse_batch(body, gateway_id, self.clock(), self.matcher)
        self.malformed += len(result.rejected)
        if result.observations:
            self.ingest(result.observations)
            self.observations += len(result.observations)
