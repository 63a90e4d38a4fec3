"""`vendtrack demo`: a fresh SQLite database, a seeded demo site, simulators, workers and the web UI.

With --smoke it serves on a free local port, runs one end-to-end flow per domain against the
simulators, prints a line per flow ending in `pass` or `FAIL: <reason>`, and exits non-zero on any failure.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import BaseWSGIServer, make_server

from core.db import unit_of_work
from core.models import CostCenter, Site
from core.runtime import AppServices, DemoContext, SmokeResult
from core.users import create_user
from web import demo_custody, demo_links
from web.db_problems import alembic_quiet
from web.demo_logins import DEMO_LOGINS
from web.domains import domain_name, hook
from web.fleet_demo import run_fleet_demo
from web.smoke import core_smoke
from web.smoke_flow import cross_domain_smoke
from web.workers import WorkerSet, dispatcher_workers, domain_workers, freeze_start_up_heap, storage_workers

AppFactory = Callable[..., Flask]  # web.app.create_app, handed in by web.cli: web.app imports this module's caller


def build_demo_app(factory: AppFactory, instance: Path, settings: dict[str, Any] | None = None) -> Flask:
    """Create a fresh demo database in `instance/demo` and an app bound to it (built by `factory`, web.app's
    create_app), schema migrated."""
    folder = instance / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'vendtrack-demo.db'}"
    with alembic_quiet():  # around the import too: alembic logs its plugins' set-up as it loads them
        from migrations import upgrade  # deferred: alembic (heavy, ~0.2 s), only to migrate

        upgrade(url)
    return factory({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SETTINGS": dict(settings or {})})


def seed_core(services: AppServices) -> tuple[int, str]:
    with unit_of_work(services.session_factory) as session:
        site = Site(
            code="PLANT1",
            name="Riverside Plant & Hospital Campus",
            ship_to_address="Receiving Dock 2\n100 Riverside Way\nSpringfield",
            timezone="UTC",
            country="US",
        )
        session.add(site)
        session.flush()
        session.add_all(
            [
                CostCenter(code="CC-100", name="Maintenance", site_id=site.id),
                CostCenter(code="CC-200", name="Production", site_id=site.id),
                CostCenter(code="CC-300", name="Clinical Engineering", site_id=site.id),
            ]
        )
        for username, password, roles in DEMO_LOGINS:
            create_user(session, username, password, roles, actor="demo", clock=services.clock)
        return site.id, site.code


def start_demo(app: Flask, base_url: str, state: dict[str, Any] | None = None) -> DemoContext:
    """Seed every domain, link them (machine items get purchasing policies), start their simulators."""
    services: AppServices = app.extensions["vendtrack"]
    site_id, site_code = seed_core(services)
    demo = DemoContext(
        services=services,
        instance_path=Path(app.instance_path),
        site_id=site_id,
        site_code=site_code,
        base_url=base_url,
        state=dict(state or {}),
    )
    for plugin in app.extensions["vendtrack_plugins"]:
        if (seed := hook(plugin, "seed_demo")) is not None:
            with unit_of_work(services.session_factory) as session:
                seed(session, demo)
    linked = demo_links.link_machine_items(services, demo)
    if linked:
        demo.notes.append(f"procurement: {len(linked)} machine items start at their minimum; the first dispense of "
                          "any of them becomes a draft PO within seconds")  # fmt: skip
    for plugin in app.extensions["vendtrack_plugins"]:
        if (start := hook(plugin, "start_demo")) is not None:
            demo.workers.extend(start(demo))
    demo.workers.extend(storage_workers(services) + dispatcher_workers(services, 1) + domain_workers(app, services))
    demo.workers.append(demo_custody.custody_worker(services, demo.state))
    demo.notes.append("custody: at 20 s W007 takes torque wrench TW-001 from LOCKER-1 into Theatre 1 (a 1-minute FOD "
                      "zone); watch Tools out and the alerts, it comes back at 330 s")  # fmt: skip
    return demo


class _ServerThread(threading.Thread):
    def __init__(self, app: Flask, host: str, port: int) -> None:
        super().__init__(daemon=True, name="demo-http")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the summary
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def run(self) -> None:
        self.server.serve_forever()

    def shutdown(self) -> None:
        self.server.shutdown()


def run_smoke(app: Flask, demo: DemoContext) -> list[tuple[str, SmokeResult]]:
    results: list[tuple[str, SmokeResult]] = [("core", _guarded(core_smoke, demo))]
    for plugin in app.extensions["vendtrack_plugins"]:
        if (smoke := hook(plugin, "smoke")) is not None:
            results.append((domain_name(plugin), _guarded(smoke, demo)))
    if demo_links.MAIL_KEY in demo.state:
        results.append(("cross-domain", _guarded(cross_domain_smoke, demo)))
    return results


def _guarded(flow: Any, demo: DemoContext) -> SmokeResult:
    try:
        result: SmokeResult = flow(demo)
        return result
    except Exception as exc:
        traceback.print_exc()
        return SmokeResult(False, f"{type(exc).__name__}: {exc}")


def demo_command(factory: AppFactory) -> click.Command:
    """The `vendtrack demo` command; `factory` (web.app's create_app, handed in by web.cli) builds the demo app."""

    @click.command("demo", help="Run vendtrack with a fresh demo database and every device simulated.")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True, type=int)
    @click.option("--smoke", is_flag=True, help="Run one end-to-end flow per domain headless, then exit.")
    @click.option(
        "--espresense/--no-espresense",
        default=False,
        show_default=True,
        help="Also listen to real ESPresense topics (espresense/devices/<id>/<room>) on the MQTT broker, so "
        "a real node can be pointed at the demo; the node's room names must be gateway ids of the demo.",
    )
    @click.option(
        "--shift/--no-shift",
        default=True,
        show_default=True,
        help="Simulated workers take an item at a machine every few seconds (never with --smoke).",
    )
    @click.option(
        "--fleet", is_flag=True, help="A central server and two edges as processes of their own (docs/fleet.md)."
    )
    @with_appcontext
    def command(host: str, port: int, smoke: bool, espresense: bool, shift: bool, fleet: bool) -> None:
        if fleet:
            run_fleet_demo(Path(current_app.instance_path), host, port)
            return
        run_demo(factory, host, port, smoke=smoke, espresense=espresense, shift=shift)

    return command


def run_demo(factory: AppFactory, host: str, port: int, *, smoke: bool, espresense: bool, shift: bool) -> None:
    instance = Path(current_app.instance_path)
    mail_folder = instance / "demo-mail"
    capture = demo_links.start_mail_capture(mail_folder)
    app = build_demo_app(factory, instance, {"smtp_host": capture.host, "smtp_port": capture.port})
    server = _ServerThread(app, host, 0 if smoke else port)
    base_url = f"http://{host}:{server.port}"
    demo = start_demo(app, base_url, {"tracking.espresense_topics": espresense or smoke, demo_links.MAIL_KEY: capture})
    demo.workers.append(demo_links.mail_worker(capture, mail_folder))
    if not smoke:
        demo.workers.append(demo_links.auto_send_worker(demo.services))
        if shift:
            demo.workers.append(demo_links.DemoShift(demo))
    workers = WorkerSet(demo.workers, demo.services)
    workers.start()
    server.start()
    freeze_start_up_heap()
    try:
        if smoke:
            results = run_smoke(app, demo)
            for name, result in results:
                click.echo(f"{name}: {result.detail} - pass" if result.ok else f"{name}: FAIL: {result.detail}")
            failed = [name for name, result in results if not result.ok]
            click.echo(f"smoke: {len(results) - len(failed)} of {len(results)} flows passed")
            raise SystemExit(1 if failed else 0)
        click.echo(f"vendtrack demo is running at {base_url}/")
        for username, password, roles in DEMO_LOGINS:
            click.echo(f"  login {username} / {password}  ({', '.join(r.value for r in roles)})")
        for note in demo.notes:
            click.echo(f"  {note}")
        click.echo(f"  purchase-order e-mail: SMTP capture at {capture.host}:{capture.port}, saved to {mail_folder}/; "
                   "auto-approved system orders are e-mailed by themselves")  # fmt: skip
        if not espresense:
            click.echo("  ESPresense: real topics espresense/... not listened to (--espresense to hear a real node)")
        if shift:
            click.echo(f"  simulated workers take an item every {demo_links.SHIFT_INTERVAL_S:.0f} s "
                       "(--no-shift to stop them)")  # fmt: skip
        click.echo("Press Ctrl+C to stop.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        server.shutdown()
        workers.stop()
        capture.__exit__(None, None, None)
