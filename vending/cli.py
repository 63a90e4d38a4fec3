"""`vendtrack vending ...`: CSV import/export, pick lists, crash reconcile and the overdue scan from a shell."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TextIO

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core import notes
from core.db import unit_of_work
from core.models import Site
from core.runtime import AppServices
from vending import csv_io, restock, tools
from vending.runtime import runtime


def _services() -> AppServices:
    services: AppServices = current_app.extensions["vendtrack"]
    return services


@click.group("vending", cls=AppGroup, help="Vending: CSV import/export, pick lists, reconcile, overdue tools.")
def vending_group() -> None:
    """Commands for the shop floor."""


@vending_group.command("import", help="Import items, workers or a planogram from CSV (bad rows are listed).")
@click.argument("kind", type=click.Choice(csv_io.KINDS))
@click.argument("path", type=click.File("r", encoding="utf-8-sig"))
@click.option("--site", default="", help="Site code for new workers (default: the first site).")
def import_command(kind: str, path: TextIO, site: str) -> None:
    with unit_of_work(_services().session_factory) as session:
        query = select(Site.id).where(Site.code == site) if site else select(Site.id).order_by(Site.id)
        site_id = session.scalar(query)
        if site_id is None:
            raise click.ClickException(f"no site {site!r}: create it first or pass --site")
        report = csv_io.import_csv(session, kind, path.read(), site_id)
    click.echo(f"{kind}: {report.imported} rows imported, {len(report.errors)} rejected")
    for error in report.errors:
        click.echo(f"  line {error.line}: {error.message}", err=True)
    if report.errors:
        sys.exit(2)


@vending_group.command("export", help="Write items, workers or the planogram as CSV to stdout.")
@click.argument("kind", type=click.Choice(csv_io.KINDS))
def export_command(kind: str) -> None:
    with unit_of_work(_services().session_factory) as session:
        click.echo(csv_io.export_csv(session, kind), nl=False)


@vending_group.command("pick-list", help="What to bring to a machine: slots below their maximum.")
@click.argument("machine")
def pick_list_command(machine: str) -> None:
    with unit_of_work(_services().session_factory) as session:
        lines = restock.pick_list(session, restock.machine_id_for(session, machine))
    for line in lines:
        click.echo(
            f"{line.slot_code:6} {line.sku:16} {line.item_name:40} {line.on_hand:>5}/{line.max_level:<5} "
            f"pick {line.to_pick}"
        )
    if not lines:
        click.echo("every slot is at its maximum")


@vending_group.command("reconcile", help="Settle dispenses a crash left in flight, from the devices' state.")
@click.option(
    "--idle-minutes",
    default=10,
    show_default=True,
    help="Only dispenses untouched this long (0 when no vendtrack process is running).",
)
def reconcile_command(idle_minutes: int) -> None:

    vending = runtime(_services())
    try:
        for view in vending.runner.reconcile(idle_for=timedelta(minutes=idle_minutes)):
            said = notes.english(view.detail)
            click.echo(f"dispense {view.id} {view.machine_code}/{view.slot_code}: {view.status} {said}")
    finally:
        vending.runner.shutdown()
        vending.pool.close_all()


@vending_group.command("overdue", help="List overdue tools and publish ToolOverdue once per late loan.")
def overdue_command() -> None:
    services = _services()
    with unit_of_work(services.session_factory) as session:
        late = tools.overdue(session, services.clock.now())
        published = tools.publish_overdue(session, services.clock.now())
    for tool in late:
        due = tool.due_at.strftime("%Y-%m-%d %H:%M") if tool.due_at else "?"
        click.echo(f"{tool.serial:12} {tool.name:30} {tool.worker_code or '':10} due {due}")
    click.echo(f"{len(late)} overdue, {published} newly reported")
