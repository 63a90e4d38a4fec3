"""The vendtrack CLI: db upgrade, user create, token create/list/revoke, outbox status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from core.models import Site
from core.users import Outcome, authenticate, verify_token
from web.app import create_app


def _app(tmp_path: Path) -> Flask:
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "INSTANCE_PATH": str(tmp_path)})


def test_upgrade_then_users_and_tokens(tmp_path: Path) -> None:
    app = _app(tmp_path)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    result = runner.invoke(args=["user", "create", "bob", "--role", "approver", "--password", "bob-password"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["user", "create", "eve", "--role", "wizard", "--password", "eve-password"])
    assert result.exit_code != 0 and "unknown role 'wizard'" in result.output
    result = runner.invoke(args=["token", "create", "gw-7", "--scope", "gateway"])
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip().splitlines()[-1]
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as session:
        assert authenticate(session, "bob", "bob-password").outcome is Outcome.SIGNED_IN
        token = verify_token(session, plain)
        assert token is not None and token.scopes == frozenset({"gateway"})
    listed = runner.invoke(args=["token", "list"]).output
    assert "gw-7" in listed and "active" in listed
    assert runner.invoke(args=["token", "revoke", str(token.id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["token", "list"]).output
    assert "no token with id 99" in runner.invoke(args=["token", "revoke", "99"]).output
    assert "backlog 0" in runner.invoke(args=["outbox", "status"]).output
    weak = runner.invoke(args=["user", "create", "carl", "--role", "staff", "--password", "carl-password"])
    assert weak.exit_code != 0 and "contains your username" in weak.output


def test_an_edge_token_is_bound_to_a_site(tmp_path: Path) -> None:
    app = _app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    unbound = runner.invoke(args=["token", "create", "edge-p1", "--scope", "edge"])
    assert unbound.exit_code != 0 and "choose the site of that edge" in unbound.output
    unknown = runner.invoke(args=["token", "create", "edge-p1", "--scope", "edge", "--site", "P9"])
    assert unknown.exit_code != 0 and "no site with code 'P9'" in unknown.output
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        session.add(Site(code="P1", name="Plant 1"))
    made = runner.invoke(args=["token", "create", "edge-p1", "--scope", "edge", "--site", "p1"])
    assert made.exit_code == 0, made.output
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        token = verify_token(session, made.stdout.strip().splitlines()[-1])
        site = session.scalar(select(Site).where(Site.code == "P1"))
        assert token is not None and site is not None and token.site_id == site.id and token.scopes == {"edge"}


def test_malformed_setting_stops_start_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDTRACK_OUTBOX_MAX_ATTEMPTS", "many")
    with pytest.raises(ValueError, match="VENDTRACK_OUTBOX_MAX_ATTEMPTS"):
        _app(tmp_path)


def test_console_entry_lists_commands(tmp_path: Path) -> None:
    env = {**os.environ, "VENDTRACK_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "web", "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("demo", "serve", "db", "user", "token", "sim", "routes"):
        assert f"  {command} " in result.stdout


def test_console_entry_names_a_bad_setting_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "VENDTRACK_INSTANCE_PATH": str(tmp_path), "VENDTRACK_SMTP_PORT": "smtp"}
    result = subprocess.run(
        [sys.executable, "-m", "web", "routes"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "vendtrack: VENDTRACK_SMTP_PORT='smtp' is not a whole number"
