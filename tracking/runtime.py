"""Background workers of tracking: the flush loop (engine → database) and the MQTT consumer."""

from __future__ import annotations

import socket

from core.runtime import AppServices, BackgroundWorker, LoopWorker
from tracking.pipeline import Pipeline, pipeline_for
from tracking.sources.mqtt import MqttConsumer


class MqttWorker:
    def __init__(self, consumer: MqttConsumer) -> None:
        self.consumer = consumer
        self.name = f"tracking-mqtt-{consumer.host}:{consumer.port}"

    def start(self) -> None:
        self.consumer.start()

    def stop(self) -> None:
        self.consumer.stop()


def mqtt_consumer(pipeline: Pipeline, host: str, port: int, prefix: str = "", group: str = "vendtrack") -> MqttConsumer:
    return MqttConsumer(
        pipeline.ingest,
        pipeline.gateway_status,
        ingest_one=pipeline.ingest_one,
        host=host,
        port=port,
        prefix=prefix,
        group=group,
        clock=pipeline.now,
    )


def broker_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pipeline_workers(services: AppServices, mqtt: bool = False, prefix: str = "") -> list[BackgroundWorker]:
    pipeline = pipeline_for(services)
    found: list[BackgroundWorker] = [LoopWorker("tracking-flush", pipeline.flush, interval=1.0)]
    if mqtt:
        settings = services.settings
        found.append(MqttWorker(mqtt_consumer(pipeline, settings.mqtt_host, settings.mqtt_port, prefix)))
    return found
