"""`vendtrack tracking scan|replay|calibrate|load|export` and `vendtrack sim ble`."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import with_appcontext

from core.db import unit_of_work
from core.heartbeats import HeartbeatWriter
from core.runtime import BackgroundWorker
from tracking import calibration_service
from tracking.floorplan import demo_floor
from tracking.gateway_sim import FORMATS as GATEWAY_FORMATS
from tracking.gateway_sim import make_publisher
from tracking.observation import Observation
from tracking.pipeline import pipeline_for
from tracking.replay import read_recording
from tracking.runtime import FlushWorker
from tracking.setup import export_setup, load_setup
from tracking.simrun import LiveSimulator, wander
from tracking.sources.scanner import ScannerSource


@click.group("tracking", help="BLE tracking: scan with a local adapter, replay recordings.")
def tracking_group() -> None:
    pass


@tracking_group.command("scan", help="Scan with the local Bluetooth adapter (bleak) and feed the location engine.")
@click.option("--gateway-id", default="local", show_default=True, help="Gateway id this scanner reports as.")
@click.option("--adapter", default=None, help="BlueZ adapter name, e.g. hci0 (default: the first).")
@click.option("--seconds", default=None, type=float, help="Stop after this many seconds (default: run until Ctrl+C).")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON lines.")
@with_appcontext
def scan_command(gateway_id: str, adapter: str | None, seconds: float | None, record_path: Path | None) -> None:
    services = current_app.extensions["vendtrack"]
    pipeline = pipeline_for(services)
    out: IO[str] | None = record_path.open("a") if record_path else None

    def record(obs: Observation) -> None:
        if out is not None:
            out.write(json.dumps(obs._asdict()) + "\n")

    settings = pipeline.settings
    source = ScannerSource(pipeline.ingest, gateway_id, adapter, settings.times, settings.ingest_silent_after_s,
                           on_observation=record, give_up_if_never_up=True)  # fmt: skip
    flusher = FlushWorker(pipeline)
    writer = HeartbeatWriter(services.session_factory, lambda: [flusher, source], services.settings.heartbeat_seconds)
    running: list[BackgroundWorker] = [source]
    source.start()
    started = time.monotonic()
    try:
        while seconds is None or time.monotonic() - started < seconds:
            if source.supervisor.outages and not source.supervisor.was_up:  # it never worked: say why and stop
                click.echo(source.supervisor.last_error, err=True)
                raise SystemExit(2)
            if source.supervisor.was_up and len(running) == 1:  # adverts arrive: write decisions and heartbeats
                running += [flusher, writer]
                flusher.start()
                writer.start()
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        for worker in running:
            worker.stop()
        if out is not None:
            out.close()
    click.echo(f"scanned: {source.stats.accepted} beacon adverts, {sum(source.stats.rejected.values())} refused")


@tracking_group.command("replay", help="Feed a JSON-lines recording (observations or raw adverts) through the engine.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def replay_command(path: Path) -> None:
    pipeline = pipeline_for(current_app.extensions["vendtrack"])
    pipeline.refresh_floor(force=True)
    with path.open() as lines:
        result = read_recording(lines)
    for batch_start in range(0, len(result.observations), 1000):
        pipeline.ingest(result.observations[batch_start : batch_start + 1000])
    report = pipeline.flush(at=result.observations[-1].at if result.observations else None)
    for error in result.errors[:20]:
        click.echo(f"line {error.index}: {error.field}: {error.message}", err=True)
    click.echo(
        f"replayed {len(result.observations)} observations ({len(result.errors)} bad lines skipped); "
        f"{report.room_changes} room changes written"
    )


@tracking_group.command(
    "calibrate", help="Suggest per-gateway RSSI offsets from the reference tags heard in a JSON-lines recording."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "apply_all", is_flag=True, help="Write the suggested offsets (audited as the CLI).")
@with_appcontext
def calibrate_command(path: Path, apply_all: bool) -> None:
    with path.open() as lines:
        result = read_recording(lines)
    services = current_app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        suggested = calibration_service.suggest_offsets(session, result.observations)
        if not suggested:
            raise click.ClickException(
                "no reference tag was heard by two gateways: register tags of type reference_tag with a home zone"
            )
        for s in suggested:
            click.echo(
                f"{s.gateway_id}: offset {s.current_offset_db:+.1f} -> {s.suggested_offset_db:+.1f} dB "
                f"({s.tags} tags, {s.samples} adverts, residual {s.residual_db:.1f} dB)"
            )
            if apply_all:
                calibration_service.apply_offset(
                    session, s.gateway_id, s.suggested_offset_db, "cli:calibrate", services.clock
                )
    click.echo("applied" if apply_all else "not applied: run again with --apply to write them")


@tracking_group.command("load", help="Load zones, gateways, assets and PAR rules from a JSON file (upsert).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def load_command(path: Path) -> None:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from None
    with unit_of_work(current_app.extensions["vendtrack"].session_factory) as session:
        report = load_setup(session, data)
    for error in report.errors:
        click.echo(f"{error.section}[{error.index}].{error.field}: {error.message}", err=True)
    loaded = ", ".join(f"{count} {section}" for section, count in report.loaded.items()) or "nothing"
    refused = len({(error.section, error.index) for error in report.errors})
    click.echo(f"loaded {loaded}; {refused} rows refused")
    if report.errors:
        raise SystemExit(1)


@tracking_group.command("export", help="Write zones, gateways, assets and PAR rules as JSON that `load` reads back.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=False)
@with_appcontext
def export_command(path: Path | None) -> None:
    with unit_of_work(current_app.extensions["vendtrack"].session_factory) as session:
        text = json.dumps(export_setup(session), indent=2) + "\n"
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text)
        click.echo(f"wrote {path}")


@click.command("ble", help="Simulate tagged assets moving through the demo floor, publishing to MQTT or HTTP.")
@click.option("--mqtt", "mqtt_url", default=None, help="host:port of an MQTT broker (ESPresense topics).")
@click.option("--prefix", default="", help="Topic prefix, e.g. test1/ (MQTT only).")
@click.option("--http", "http_url", default=None, help="Base URL of vendtrack (gateway batch endpoint).")
@click.option("--token", default="", help="Gateway-scope bearer token (HTTP only).")
@click.option("--format", "fmt", type=click.Choice(GATEWAY_FORMATS), default=None,
              help="The gateways' shape: espresense (MQTT, default there), batch (HTTP, default there), theengs "
                   "(MQTT), minew (HTTP), ingics (HTTP or MQTT). See docs/hardware.md.")  # fmt: skip
@click.option("--tags", default=20, show_default=True, help="How many tags to simulate.")
@click.option("--seconds", default=None, type=float, help="Stop after this many seconds.")
@click.option("--seed", default=1, show_default=True)
def sim_ble(
    mqtt_url: str | None, prefix: str, http_url: str | None, token: str, fmt: str | None, tags: int,
    seconds: float | None, seed: int,
) -> None:  # fmt: skip
    if not (mqtt_url or http_url):
        raise click.UsageError("say where to publish: --mqtt 127.0.0.1:1883 or --http http://127.0.0.1:5000")
    try:
        publisher = make_publisher(fmt or ("espresense" if mqtt_url else "batch"), mqtt_url, prefix, http_url, token)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    rng = random.Random(seed)
    plan, now = demo_floor(), time.time()
    walkers = [wander(plan, demo_tag_key(i), rng, now) for i in range(1, tags + 1)]
    simulator = LiveSimulator(plan, walkers, publisher, seed=seed)
    simulator.start()
    click.echo(f"simulating {tags} tags on floor {plan.floor} of {plan.building}; Ctrl+C to stop")
    try:
        time.sleep(seconds if seconds is not None else sys.maxsize / 1e12)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    click.echo(f"published {simulator.published} observations")


DEMO_UUID = "f7826da64fa24e988024bc5b71e0893e"


def demo_tag_key(number: int) -> str:
    return f"ib-{DEMO_UUID}-100-{number}"


__all__ = ["Observation", "demo_tag_key", "sim_ble", "tracking_group"]
