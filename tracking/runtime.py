"""Background workers of tracking: the flush/sweep loop, the MQTT consumer, and the HTTP batch ingester's report.

Each one reports a heartbeat (`core.heartbeats.Reporter`), so /healthz and /admin/ingest in any process
see whether it runs, when it last heard a message and what it refused. With `VENDTRACK_TRACKING_MQTT=1` the
consumer is `MqttConsumer` (our MQTT 5 session, QoS 1); with `VENDTRACK_TRACKING_MQTT_PROCESSES=N` each
engine process owns tag partition i of N and `vendtrack serve` starts the N - 1 beyond its workers process
(`engine_processes`, `engine_workers`). With `VENDTRACK_TRACKING_MQTT_READER=1` the engines take their messages
from one reader instead of subscribing each (`tracking.reader`): serve runs it as a process of its own,
`tracking-reader` (`reader_process_workers`: the reader and nothing else); only a process that runs everything
(role "all": waitress, the demo) runs it as a thread beside its engine.
"""

from __future__ import annotations

import logging
import socket
import zlib
from datetime import UTC, datetime

from core.heartbeats import Beat, WorkerState
from core.runtime import AppServices, BackgroundWorker, process_role
from core.settings import Settings
from core.supervisor import Supervised
from tracking.pipeline import Pipeline, TrackingSettings, pipeline_for
from tracking.reader import EngineLink, ReaderWorker, socket_path
from tracking.sources.mqtt import BrokerConfig, MqttConsumer
from tracking.sources.stats import IngestStats

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 1.0
SESSION_EXPIRY_S = 300  # the broker keeps an engine's queue this long while it restarts


class FlushWorker:
    """Every second: the engine's clock-driven decisions (silent tags become unknown on time), then the writes."""

    def __init__(self, pipeline: Pipeline, interval: float = FLUSH_INTERVAL_S) -> None:
        self.pipeline, self.interval = pipeline, interval
        part = pipeline.partition
        self.name = "tracking-flush" + ("" if part.whole else f"-{part.index}of{part.count}")
        self.failures = 0
        self.supervisor = Supervised(self.name, self._loop)

    def _loop(self, supervisor: Supervised) -> None:
        supervisor.up()
        while not supervisor.stopping.wait(self.interval):
            try:
                self.pipeline.flush()
            except Exception:  # e.g. the database is away: the engine requeued its changes; try again next round
                self.failures += 1
                log.exception("tracking flush failed; the engine keeps its decisions for the next round")
            supervisor.beat()

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()
        try:
            self.pipeline.flush()  # what was decided since the last round is not lost at shutdown
        except Exception:
            log.exception("the last tracking flush at stop failed")

    def heartbeat(self) -> Beat:
        return Beat(
            self.name, self.supervisor.alive_at, self.supervisor.started_at, self.supervisor.state,
            counters={"failed_flushes": self.failures, "restarts": self.supervisor.restarts},
            last_error=self.supervisor.last_error,
        )  # fmt: skip


class HttpBatchIngester:
    """The gateway batch endpoint has no thread of its own; this reports its counters with the process's beats."""

    def __init__(self, stats: IngestStats) -> None:
        self.stats = stats
        self.name = stats.role

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def heartbeat(self) -> Beat:
        item = self.stats.beat(WorkerState.RUNNING, datetime.now(UTC), info="POST /api/v1/gateways/<id>/adverts")
        if self.stats.last_message_at is None:  # no gateway uses HTTP here (yet): its silence says nothing
            return Beat(item.role, item.alive_at, item.started_at, item.state, item.kind, None, None, item.counters,
                        item.last_error, item.info)  # fmt: skip
        return item


class MqttWorker:
    def __init__(self, consumer: MqttConsumer) -> None:
        self.consumer = consumer
        part = consumer.partition
        self.name = f"tracking-mqtt-{consumer.host}:{consumer.port}" + (f"-{part.index}of{part.count}" if part else "")

    def start(self) -> None:
        self.consumer.start()

    def stop(self) -> None:
        self.consumer.stop()

    def heartbeat(self) -> Beat:
        return self.consumer.heartbeat()


def broker_config(settings: Settings) -> BrokerConfig:
    return BrokerConfig(
        settings.mqtt_host, settings.mqtt_port, settings.mqtt_username, settings.mqtt_password, settings.mqtt_tls,
        settings.mqtt_ca_file, settings.mqtt_cert_file, settings.mqtt_key_file,
    )  # fmt: skip


def mqtt_consumer(pipeline: Pipeline, broker: BrokerConfig, prefix: str = "", group: str = "vendtrack") -> MqttConsumer:
    """The pipeline's consumer; it keeps only the tags of the pipeline's partition (all of them with one process).

    Its MQTT session outlives a restart by `SESSION_EXPIRY_S`: what the broker sent but we had not acknowledged
    (the process died while handling it) and what arrived meanwhile is delivered to the restarted engine."""
    part = pipeline.partition
    client_id = f"vendtrack-engine-{zlib.crc32(prefix.encode()):08x}-{part.index}of{part.count}"
    return MqttConsumer(
        pipeline.ingest,
        pipeline.gateway_status,
        ingest_one=pipeline.ingest_one,
        prefix=prefix,
        group=group,
        clock=pipeline.now,
        broker=broker,
        times=pipeline.settings.times,
        silent_after_s=pipeline.settings.ingest_silent_after_s,
        partition=None if part.whole else part,
        heard=pipeline.engine.heard,
        client_id=client_id,  # one per (prefix, partition): a restarted engine takes its session over
        session_expiry_s=SESSION_EXPIRY_S,
    )


def broker_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pipeline_workers(services: AppServices, mqtt: bool = False, prefix: str | None = None) -> list[BackgroundWorker]:
    """The flush worker, the HTTP batch report and (with `mqtt`) the consumer of this process's partition."""
    pipeline = pipeline_for(services)
    found: list[BackgroundWorker] = [FlushWorker(pipeline)]
    if pipeline.leads:  # the HTTP inbox is taken by the lead partition's flush
        found.append(HttpBatchIngester(pipeline.http_stats))
    if mqtt:
        topic_prefix = pipeline.settings.mqtt_prefix if prefix is None else prefix
        consumer = mqtt_consumer(pipeline, broker_config(services.settings), topic_prefix)
        if pipeline.settings.mqtt_reader:
            found.append(engine_link(services.settings, pipeline, consumer))
            if pipeline.leads and process_role(services) == "all":  # one process runs everything: the reader too
                found.extend(reader_process_workers(services))
        else:
            found.append(MqttWorker(consumer))
    return found


def engine_link(settings: Settings, pipeline: Pipeline, consumer: MqttConsumer) -> EngineLink:
    """With the reader: this engine's link to it (every engine, the lead's included, links the same way)."""
    part = pipeline.partition
    return EngineLink(socket_path(settings.instance_path), consumer, part.index, part.count)


def reader_process_workers(services: AppServices) -> list[BackgroundWorker]:
    """What the reader's process runs (`vendtrack workers --process tracking-reader`): the reader alone, no engine,
    no flush, no outbox. It reads the same settings as the engines (broker, prefix, `VENDTRACK_TRACKING_MQTT_
    PROCESSES`, the instance folder of the socket), so it runs on the engines' machine with their environment."""
    settings = TrackingSettings.from_extra(services.settings.extra)
    path, broker = socket_path(services.settings.instance_path), broker_config(services.settings)
    return [ReaderWorker(path, settings.partition.count, broker, settings.mqtt_prefix, SESSION_EXPIRY_S)]


READER_PROCESS = "tracking-reader"


def engine_processes(settings: TrackingSettings) -> dict[str, dict[str, str]]:
    """The processes beyond the workers process (which owns partition 0): the engines of partitions 1..N-1 and,
    with the reader, the reader's own process: name -> environment to add."""
    if settings.mqtt_partition:  # this process was given its partition by hand: the operator starts the rest
        return {}
    count = settings.mqtt_processes
    found = {f"tracking-engine-{i}": {"VENDTRACK_TRACKING_MQTT_PARTITION": f"{i}/{count}"} for i in range(1, count)}
    if settings.mqtt_reader:
        found[READER_PROCESS] = {}
    return found


def engine_workers(services: AppServices) -> list[BackgroundWorker]:
    """What an extra engine process runs: its partition's consumer and flush, nothing else."""
    return pipeline_workers(services, mqtt=True)
