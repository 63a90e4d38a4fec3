"""How tracking plugs into vendtrack: blueprints, CLI, simulator, workers, demo seed/start and the smoke flow."""

from __future__ import annotations

import math

import click
from flask import Blueprint
from sqlalchemy.orm import Session

from core.outbox import ConsumerRegistry
from core.roles import Role
from core.runtime import AppServices, BackgroundWorker, DemoContext, LoopWorker, SmokeResult
from core.settings import EXTRA_VARIABLES, SettingsError
from tracking import (
    alert_views,
    api,
    custody,
    custody_views,
    gateway_api,
    inbox,
    scan_views,
    setup_views,
    views,
    walk_views,
)
from tracking.cli import sim_ble, tracking_group
from tracking.demo import seed, smoke_flow, start
from tracking.pipeline import TrackingSettings
from tracking.runtime import READER_PROCESS, engine_processes, engine_workers, pipeline_workers, reader_process_workers
from tracking.sources.partition import Partition
from tracking.trends import SAMPLE_EVERY, sampler


def _number(name: str, raw: str) -> str:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"VENDTRACK_{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"VENDTRACK_{name} must be a positive number, got {raw!r}")
    return raw.strip()


def _flag(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"VENDTRACK_{name} must be 1 or 0, got {raw!r}")
    return "1" if value in ("1", "true", "yes") else "0"


def _processes(name: str, raw: str) -> str:
    value = raw.strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_ENGINE_PROCESSES:
        raise SettingsError(f"VENDTRACK_{name} must be a whole number of engine processes from 1 to "
                            f"{MAX_ENGINE_PROCESSES}, got {raw!r}")  # fmt: skip
    return value


def _partition(name: str, raw: str) -> str:
    try:
        part = Partition.parse(raw.strip())
    except ValueError as exc:
        raise SettingsError(f"VENDTRACK_{name}: {exc}") from None
    return f"{part.index}/{part.count}"


def _prefix(name: str, raw: str) -> str:
    value = raw.strip()
    if any(c in value for c in "+#\0") or len(value) > 200:
        raise SettingsError(f"VENDTRACK_{name} must be a topic prefix without + or # (e.g. site-a/), got {raw!r}")
    return value


MAX_ENGINE_PROCESSES = 64
EXTRA_VARIABLES.setdefault("tracking_missing_after_s", _number)
EXTRA_VARIABLES.setdefault("tracking_battery_low_mv", _number)
EXTRA_VARIABLES.setdefault("tracking_floor_reload_s", _number)
EXTRA_VARIABLES.setdefault("tracking_lost_after_s", _number)
EXTRA_VARIABLES.setdefault("tracking_future_tolerance_s", _number)
EXTRA_VARIABLES.setdefault("tracking_ingest_silent_after_s", _number)
EXTRA_VARIABLES.setdefault("tracking_mqtt", _flag)
EXTRA_VARIABLES.setdefault("tracking_mqtt_processes", _processes)
EXTRA_VARIABLES.setdefault("tracking_mqtt_partition", _partition)
EXTRA_VARIABLES.setdefault("tracking_mqtt_prefix", _prefix)
EXTRA_VARIABLES.setdefault("tracking_mqtt_reader", _flag)
EXTRA_VARIABLES.setdefault("tracking_par_purchase_after_s", _number)
EXTRA_VARIABLES.setdefault("tracking_walk_deadline_s", _number)


def register_consumers(registry: ConsumerRegistry, services: AppServices) -> None:
    """Tool custody follows vending's checkouts and returns."""
    registry.register(custody.CONSUMER, list(custody.EVENT_TYPES), custody.handle_event)


INBOX_LATE_S = 60.0  # an upload waiting longer means no process runs the location engine's flush


def health(session: Session, services: AppServices) -> dict[str, dict[str, object]]:
    """/healthz: gateway uploads waiting for the engine (they wait long only when its process is down)."""
    waiting, oldest = inbox.backlog(session)
    age = (services.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    late = []
    if age > INBOX_LATE_S:
        late.append(f"{waiting} gateway upload(s) waiting {age:.0f} s: is the workers process running?")
    return {"gateway_inbox": {"waiting": waiting, "oldest": oldest.isoformat() if oldest else None, "alerts": late}}


def blueprints() -> list[Blueprint]:
    return [views.bp, api.bp, setup_views.bp, alert_views.bp, custody_views.bp, gateway_api.bp, scan_views.bp,
            walk_views.bp]  # fmt: skip


def nav_links() -> list[tuple[str, str, frozenset[Role]]]:
    staff = frozenset({Role.STAFF, Role.ADMIN})
    return [
        ("Locate", "tracking.locate", staff),
        ("PAR levels", "tracking.par", staff),
        ("Utilisation", "tracking.utilisation", staff),
        ("Tracking alerts", "tracking_alerts.alert_list", staff),
        ("Tools out", "tracking_custody.tools_out", staff),
        ("Zones & gateways", "tracking_setup.setup_index", frozenset({Role.ADMIN})),
        ("Guided walk", "tracking_walk.walk_home", frozenset({Role.ADMIN})),
    ]


def cli_commands() -> list[click.Command]:
    return [tracking_group]


def sim_commands() -> list[click.Command]:
    return [sim_ble]


def workers(services: AppServices) -> list[BackgroundWorker]:
    """The flush worker (engine decisions → database), when configured the MQTT consumer, and the trend sampler."""
    found = pipeline_workers(services, mqtt=services.settings.extra.get("tracking_mqtt", "") == "1")
    step = sampler(services.session_factory, services.clock)
    return [*found, LoopWorker("tracking-trends", step, interval=SAMPLE_EVERY.total_seconds())]


def worker_processes(services: AppServices) -> dict[str, dict[str, str]]:
    """Processes `vendtrack serve` adds beside its workers process: one per extra MQTT engine partition, and the
    reader's with `VENDTRACK_TRACKING_MQTT_READER=1`."""
    if services.settings.extra.get("tracking_mqtt", "") != "1":
        return {}
    return engine_processes(TrackingSettings.from_extra(services.settings.extra))


def process_workers(services: AppServices, name: str) -> list[BackgroundWorker]:
    """The workers of one of `worker_processes`' processes."""
    if name == READER_PROCESS:
        extra = services.settings.extra
        if extra.get("tracking_mqtt", "") != "1" or extra.get("tracking_mqtt_reader", "") != "1":
            raise click.ClickException(f"{READER_PROCESS} runs with VENDTRACK_TRACKING_MQTT=1 and "
                                       "VENDTRACK_TRACKING_MQTT_READER=1 only (the engines' settings)")  # fmt: skip
        return reader_process_workers(services)
    return engine_workers(services) if name.startswith("tracking-engine-") else []


def seed_demo(session: Session, demo: DemoContext) -> None:
    seed(session, demo)


def start_demo(demo: DemoContext) -> list[BackgroundWorker]:
    return start(demo)


def smoke(demo: DemoContext) -> SmokeResult:
    return smoke_flow(demo)
