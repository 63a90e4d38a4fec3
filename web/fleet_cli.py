"""`vendtrack edge ...` (on an edge: enrol, status, sync, rotate) and `vendtrack fleet ...` (on the central server)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core import fleet_central, fleet_edge
from core.db import unit_of_work
from core.errors import DomainError
from core.fleet_feed import get_state, owned_rows
from core.fleet_models import FleetEdge
from core.runtime import AppServices
from web.fleet_demo import run_edge_demo
from web.fleet_report import edge_report


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


@click.group("edge", cls=AppGroup, help="This installation as an edge of a central vendtrack server.")
def edge_group() -> None:
    pass


@edge_group.command("enrol", help="Exchange a one-time enrolment code from the central server's fleet page.")
@click.argument("url")
@click.argument("code")
def edge_enrol(url: str, code: str) -> None:
    services = _services()
    with unit_of_work(services.session_factory) as session:
        filled = {name: n for name, n in owned_rows(session).items() if n}
    if filled:
        names = ", ".join(f"{name} ({n})" for name, n in sorted(filled.items()))
        raise click.ClickException(
            f"this database already holds configuration of its own: {names}. An edge takes all of it from the "
            "central server: enrol with a new, empty database (VENDTRACK_DATABASE_URL, then `vendtrack db upgrade`)"
        )
    try:
        identity = fleet_edge.enrol(url, code)
    except fleet_edge.FleetLinkError as exc:
        raise click.ClickException(str(exc)) from None
    path = fleet_edge.save_identity(services.settings.instance_path, identity)
    click.echo(f"enrolled as edge {identity.edge} of site {identity.site_code}; credential kept in {path} (mode 600)")
    link = fleet_edge.FleetLink(services.session_factory, services.settings.instance_path, lambda _s: {})
    click.echo(f"first configuration pull: {link.step()}")


@edge_group.command("status", help="Central server, configuration version, and whether syncing stopped (and why).")
def edge_status() -> None:
    services = _services()
    identity = fleet_edge.load_identity(services.settings.instance_path)
    if identity is None:
        raise click.ClickException("this installation is not an enrolled edge: run `vendtrack edge enrol URL CODE`")
    with unit_of_work(services.session_factory) as session:
        version, stopped = get_state(session, "version", "0"), get_state(session, "stopped")
        pulled = get_state(session, "last_pull_at") or "never"
    click.echo(f"edge {identity.edge} of site {identity.site_code}, central {identity.url}")
    click.echo(f"configuration version {version}, last pull {pulled}")
    click.echo(f"syncing STOPPED: {stopped}" if stopped else "syncing")


@edge_group.command("sync", help="Pull configuration and report now (the running server does it every few seconds).")
def edge_sync() -> None:
    services = _services()
    link = fleet_edge.FleetLink(
        services.session_factory, services.settings.instance_path, lambda s: edge_report(s, services)
    )
    click.echo(link.step())


@edge_group.command("rotate", help="Replace this edge's credential; the old one stops working at once.")
def edge_rotate() -> None:
    services = _services()
    link = fleet_edge.FleetLink(services.session_factory, services.settings.instance_path, lambda _s: {})
    try:
        link.rotate()
    except fleet_edge.FleetLinkError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("credential rotated; the running server picks it up at its next pull")


@click.group("fleet", cls=AppGroup, help="The edges of this central server (VENDTRACK_FLEET_CENTRAL=1).")
def fleet_group() -> None:
    pass


@fleet_group.command("add-edge", help="Create an edge and print its one-time enrolment code.")
@click.argument("name")
@click.option("--site", "site_code", required=True, help="The site the edge serves.")
@click.option("--machines", default="", help="Comma-separated machine codes it owns.")
def fleet_add_edge(name: str, site_code: str, machines: str) -> None:
    try:
        with unit_of_work(_services().session_factory) as session:
            edge, code = fleet_central.create_edge(session, name, site_code, machines, "cli", datetime.now(UTC))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"edge {edge.name}: enrolment code (valid 24 h, shown once):", err=True)
    click.echo(code)


@fleet_group.command("revoke", help="Revoke an edge's credential: it stops syncing and says why.")
@click.argument("name")
@click.option("--reason", default="revoked from the command line")
def fleet_revoke(name: str, reason: str) -> None:
    with unit_of_work(_services().session_factory) as session:
        edge_id = session.scalar(select(FleetEdge.id).where(FleetEdge.name == name))
        if edge_id is None:
            raise click.ClickException(f"no edge {name!r}: see `vendtrack fleet list`")
        fleet_central.revoke(session, edge_id, reason, "cli", datetime.now(UTC))
    click.echo(f"edge {name} revoked")


@fleet_group.command("list", help="Every edge with last contact, version, lag, backlog and alerts.")
def fleet_list() -> None:
    with unit_of_work(_services().session_factory) as session:
        version, edges = fleet_central.overview(session, datetime.now(UTC), 120.0, 300.0)
    click.echo(f"central configuration version {version}")
    for e in edges:
        state = f"revoked ({e.revoked})" if e.revoked else ("enrolled" if e.enrolled else "waiting for enrolment")
        click.echo(f"{e.name} [{e.site_code}] {state} version {e.config_version} lag {e.lag} backlog {e.backlog} "
                   f"alerts: {'; '.join(map(str, e.alerts)) or 'none'}")  # fmt: skip


@edge_group.command("demo-machine", help="Serve this edge with simulated machines and workers (demo --fleet).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--every", default=4.0, show_default=True, type=float, help="Seconds between simulated takes.")
def edge_demo_machine(host: str, port: int, every: float) -> None:
    if fleet_edge.load_identity(_services().settings.instance_path) is None:
        raise click.ClickException("this installation is not an enrolled edge: run `vendtrack edge enrol URL CODE`")
    run_edge_demo(current_app._get_current_object(), host, port, every)  # type: ignore[attr-defined]
