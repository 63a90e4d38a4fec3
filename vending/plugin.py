"""How vending plugs into the web app: blueprints, nav links, workers, demo seed/start and the smoke flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint
from sqlalchemy import select

from core.db import unit_of_work
from core.models import Site
from core.roles import Role
from core.runtime import AppServices, BackgroundWorker, DemoContext, LoopWorker, SmokeResult, process_role
from core.settings import EXTRA_VARIABLES
from vending import (
    admin_views,
    chargeback,
    count_views,
    item_views,
    kiosk_api,
    kiosk_events,
    kiosk_floor,
    kiosk_pages,
    report_views,
    restock_views,
    tools,
)
from vending import demo as vending_demo
from vending.chargeback import parse_recipients
from vending.cli import vending_group
from vending.dispense_handoff import DispenseTaker
from vending.models import Machine
from vending.pairing import bound_machine
from vending.readers import ReaderSet
from vending.runtime import runtime
from vending.smoke import smoke as run_smoke

EXTRA_VARIABLES.setdefault("vending_chargeback_to", parse_recipients)
ROUTE_MODULES = (kiosk_events, kiosk_floor)  # imported for the routes they add to kiosk_api.api_bp
PAGE_MODULES = (restock_views,)  # imported for the routes they add to report_views.bp


RECONCILE_AFTER = timedelta(minutes=10)


def blueprints() -> list[Blueprint]:
    return [admin_views.bp, report_views.bp, count_views.bp, item_views.bp, kiosk_pages.page_bp, kiosk_api.api_bp]


def cli_commands() -> list[Any]:
    return [vending_group]


def nav_links() -> list[tuple[str, str, frozenset[Role]]]:
    return [
        ("Vending", "vending_admin.overview", frozenset({Role.ADMIN, Role.RESTOCKER})),
        ("Usage", "vending_reports.usage", frozenset({Role.ADMIN, Role.STAFF, Role.PROCUREMENT})),
    ]


def workers(services: AppServices) -> list[BackgroundWorker]:
    """Housekeeping every 30 s: settle dispenses left in flight by a crash (idle longer than any door window,
    so a dispense another process is still running is never touched), then publish overdue tools."""

    def step() -> None:
        runtime(services).runner.reconcile(idle_for=RECONCILE_AFTER)
        with unit_of_work(services.session_factory) as session:
            tools.publish_overdue(session, services.clock.now())

    mailer = chargeback.Mailer.from_settings(services.settings)

    def monthly_chargeback() -> None:
        chargeback.send_if_due(services.session_factory, services.settings, mailer, services.clock.now())

    found: list[BackgroundWorker] = [
        LoopWorker("vending-housekeeping", step, interval=30.0),
        LoopWorker("vending-chargeback", monthly_chargeback, interval=chargeback.CHECK_EVERY_SECONDS),
        _ReaderWorker(services),
    ]
    if process_role(services) == "workers":  # web processes hand their authorised dispenses over to this one
        found.append(DispenseTaker(services))
    return found


class _ReaderWorker:
    """Runs the machines' serial badge readers and follows configuration changes every 10 s."""

    name = "vending-badge-readers"

    def __init__(self, services: AppServices) -> None:
        self.readers = ReaderSet(services)
        self.loop = LoopWorker(self.name, self.readers.refresh, interval=10.0)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self.readers.stop()


def seed_demo(session: Any, demo: DemoContext) -> None:
    vending_demo.seed(session, demo)


def start_demo(demo: DemoContext) -> list[BackgroundWorker]:
    return vending_demo.start(demo)


def smoke(demo: DemoContext) -> SmokeResult:
    return run_smoke(demo)


def token_machine(session: Any, token_id: int) -> str | None:
    """The machine a (kiosk) token is paired with: web checks posted events against it (core.event_scope)."""
    return bound_machine(session, token_id)


def machine_site(session: Any, machine_code: str) -> str | None:
    """The site code of a machine, for checking an edge's events."""

    site = select(Site.code).join(Machine, Machine.site_id == Site.id).where(Machine.code == machine_code)
    return session.scalar(site)
