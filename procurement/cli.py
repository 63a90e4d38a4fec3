"""`vendtrack procurement replenish | pdf PO_NUMBER -o FILE | send PO_NUMBER | retry-sends`."""

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
from procurement.transmit_worker import retry_due

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
    smtp, policy = (
        transmit.SmtpConfig.from_settings(services.settings),
        transmit.RetryPolicy.from_settings(services.settings),
    )
    try:
        result = transmit.send(services.session_factory, po_number, smtp, CLI_ACTOR, services.clock, policy)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if result.status == transmit.QUEUED and result.next_attempt_at is not None:
        raise click.ClickException(
            f"{po_number} not sent (attempt {result.attempts}): {result.error}; the background worker of "
            f"`vendtrack serve` tries again from {result.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if result.status == transmit.SENDING:  # e-mailed, but the database did not take the "sent" in time
        raise click.ClickException(
            f"{po_number}: {result.error}. This command ends now: unless the database is back first, the "
            "background worker sends it again after the claim timeout, with the same Message-ID"
        )
    if result.status != transmit.SENT:
        raise click.ClickException(f"{po_number} not sent after {result.attempts} attempts: {result.error}")
    click.echo(f"{po_number} sent to {smtp.host}:{smtp.port} (PDF sha256 {result.sha256})")


@procurement_group.command("retry-sends", help="Retry the purchase-order e-mails that are due now, once.")
def retry_sends_command() -> None:
    services = _services()
    settings = services.settings
    report = retry_due(services.session_factory, transmit.SmtpConfig.from_settings(settings), services.clock,
                       transmit.RetryPolicy.from_settings(settings))  # fmt: skip
    click.echo(
        f"sent {report.sent}, queued again {report.queued}, failed {report.failed}, stopped {report.stopped}, "
        f"recorded late {report.recorded}, taken by another process {report.skipped}"
    )
