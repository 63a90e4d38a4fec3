"""`vendtrack procurement replenish | pdf PO_NUMBER -o FILE | send PO_NUMBER`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.db import unit_of_work
from core.errors import DomainError
from core.runtime import AppServices
from procurement import pdf, replenish, transmit
from procurement.documents import build_context

CLI_ACTOR = "cli:procurement"


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


@click.group("procurement", cls=AppGroup, help="Replenishment, PO documents and sending.")
def procurement_group() -> None:
    pass


@procurement_group.command("replenish", help="Run replenishment over every policy now; submit the system drafts.")
@click.option("--submit/--no-submit", default=True, show_default=True, help="Submit system drafts for approval.")
def replenish_command(submit: bool) -> None:
    services = _services()
    with unit_of_work(services.session_factory) as session:
        report = replenish.replenish(session, services.clock)
        results = replenish.submit_system_drafts(session, services.clock) if submit else []
    click.echo(
        f"examined {report.examined} item×site policies: {report.lines_created} new lines, "
        f"{report.lines_merged} merged, {report.pos_created} new draft orders"
    )
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    for number, status in results:
        click.echo(f"  {number}: {status}")


@procurement_group.command("pdf", help="Write the PDF of a purchase order to a file.")
@click.argument("po_number")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def pdf_command(po_number: str, output: Path) -> None:
    try:
        with unit_of_work(_services().session_factory) as session:
            content = pdf.render(build_context(session, po_number))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    output.write_bytes(content)
    click.echo(f"{po_number}: {len(content)} bytes written to {output}")


@procurement_group.command("send", help="E-mail an approved purchase order to its supplier with the PDF attached.")
@click.argument("po_number")
def send_command(po_number: str) -> None:
    services = _services()
    smtp = transmit.SmtpConfig.from_settings(services.settings)
    try:
        with unit_of_work(services.session_factory) as session:
            result = transmit.send(session, po_number, smtp, CLI_ACTOR, services.clock)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if result.status != "sent":
        raise click.ClickException(f"{po_number} not sent after {result.attempts} attempts: {result.error}")
    click.echo(f"{po_number} sent to {smtp.host}:{smtp.port} (PDF sha256 {result.sha256})")
