"""The `vendtrack` command: the Flask CLI of create_app plus db, user, token, serve, demo and sim commands."""

from __future__ import annotations

import sys
from types import ModuleType

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from core import masters, outbox, users
from core.db import unit_of_work
from core.errors import DomainError
from core.roles import Role, TokenScope
from core.runtime import AppServices
from core.settings import SettingsError, check_environment, load_settings
from firmware_bridge import cli as bridge_cli
from web import db_problems
from web.demo import AppFactory, demo_command
from web.domains import hook, load_plugins
from web.serve import serve_command, workers_command


def _services(app: Flask) -> AppServices:
    return app.extensions["vendtrack"]


def register(app: Flask, plugins: list[ModuleType], factory: AppFactory) -> None:
    """Add vendtrack's commands to `app`; `factory` builds the fresh app `vendtrack demo` runs."""
    for command in (db_group, user_group, token_group, serve_command, workers_command, outbox_group):
        app.cli.add_command(command)
    app.cli.add_command(demo_command(factory))
    sim = AppGroup("sim", help="Run a simulated device (lock board, coil machine, Modbus boards, BLE).")
    for plugin in plugins:
        if (sims := hook(plugin, "sim_commands")) is not None:
            for command in sims():
                sim.add_command(command)
        if (commands := hook(plugin, "cli_commands")) is not None:
            for command in commands():
                app.cli.add_command(command)
    for command in bridge_cli.sim_commands():  # simulators live with the drivers
        sim.add_command(command)
    app.cli.add_command(sim)


@click.group("db", cls=AppGroup, help="Database schema commands.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply every pending Alembic migration (all packages).")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    from migrations import upgrade  # deferred: alembic (heavy, ~0.2 s), only to migrate

    url = _services(current_app).settings.database_url
    upgrade(url)
    click.echo(f"database at {_redact(url)} is up to date")


def _redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.group("user", cls=AppGroup, help="Manage web users.")
def user_group() -> None:
    pass


@user_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="One of: " + ", ".join(r.value for r in Role) + " (repeat for several).",
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--email", default="")
def user_create(username: str, roles: tuple[str, ...], password: str, email: str) -> None:
    try:
        parsed = [Role.parse(r) for r in roles]
        with unit_of_work(_services(current_app).session_factory) as session:
            user = users.create_user(session, username, password, parsed, email=email, actor="cli")
    except (ValueError, users.UserError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {user.username} created with roles {', '.join(sorted(user.roles))}")


@click.group("token", cls=AppGroup, help="Bearer tokens for devices, gateways and integrations.")
def token_group() -> None:
    pass


@token_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="One of: " + ", ".join(s.value for s in TokenScope) + " (repeat for several).",
)
@click.option("--site", "site_code", default="", help="Site code the token is bound to (required for --scope edge).")
def token_create(name: str, scopes: tuple[str, ...], site_code: str) -> None:
    try:
        parsed = [TokenScope.parse(s) for s in scopes]
        with unit_of_work(_services(current_app).session_factory) as session:
            site_id = masters.get_site(session, site_code).id if site_code.strip() else None
            plain, view = users.create_token(session, name, parsed, site_id=site_id, actor="cli")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except (ValueError, users.UserError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {view.id} ({name}); store it now, it is not shown again:", err=True)
    click.echo(plain)


@token_group.command("list")
def token_list() -> None:
    with unit_of_work(_services(current_app).session_factory) as session:
        for view in users.list_tokens(session):
            state = "revoked" if view.revoked_at else "active"
            click.echo(f"{view.id}\t{view.name}\t{','.join(sorted(view.scopes))}\t{state}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    try:
        with unit_of_work(_services(current_app).session_factory) as session:
            users.revoke_token(session, token_id, actor="cli")
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {token_id} revoked")


@click.group("outbox", cls=AppGroup, help="Inspect and drive event delivery.")
def outbox_group() -> None:
    pass


@outbox_group.command("status")
def outbox_status() -> None:
    services = _services(current_app)
    with unit_of_work(services.session_factory) as session:
        click.echo(
            f"backlog {outbox.backlog(session, services.consumers)}; "
            f"dead letters {outbox.dead_letter_count(session)}; consumers {', '.join(services.consumers.names())}"
        )


@outbox_group.command("dispatch", help="Deliver every due event now and exit.")
def outbox_dispatch() -> None:
    services = _services(current_app)
    report = outbox.Dispatcher(
        services.session_factory,
        services.consumers,
        services.clock,
        max_attempts=services.settings.outbox_max_attempts,
        backoff_seconds=services.settings.outbox_backoff_seconds,
    ).drain()
    click.echo(f"delivered {report.delivered}, failed {report.failed}, dead {report.dead}")


def main(create_app: AppFactory) -> None:
    """Run the `vendtrack` command line on apps built by `create_app` (web.console passes web.app's)."""
    load_plugins()  # plugins declare their own VENDTRACK_* variables when imported
    try:
        check_environment()
    except SettingsError as exc:
        click.echo(f"vendtrack: {exc}", err=True)
        sys.exit(2)

    cli = FlaskGroup(
        create_app=create_app,
        add_version_option=False,
        help="vendtrack: industrial vending, asset tracking and procurement.",
    )
    try:
        sys.exit(cli.main())
    except DBAPIError as exc:
        if (sentence := db_problems.explain(exc, load_settings().database_url)) is None:
            raise
        click.echo(f"vendtrack: {sentence}", err=True)
        sys.exit(2)
