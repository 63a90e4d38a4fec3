"""web.db_problems: a new, outdated, newer or unreachable database is named in a sentence, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import make_engine
from migrations import alembic_config, upgrade
from tests.web.served import free_port
from web.db_problems import schema_problem


def _vendtrack(*args: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VENDTRACK_DATABASE_URL": url, "VENDTRACK_INSTANCE_PATH": str(tmp_path / "instance")}
    return subprocess.run([sys.executable, "-m", "web", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_a_command_on_an_in_memory_database_says_to_upgrade_and_to_use_a_file(tmp_path: Path) -> None:
    done = _vendtrack("token", "list", url="sqlite://", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("vendtrack: the database at sqlite:// has no vendtrack tables"), done.stderr
    assert "run `vendtrack db upgrade` first" in done.stderr
    assert "in-memory database that lasts one command" in done.stderr


def test_a_command_on_a_new_file_says_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    done = _vendtrack("outbox", "status", url=url, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"the database at {url} has no vendtrack tables" in done.stderr
    assert "in-memory" not in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://vt:hunter2@127.0.0.1:{free_port()}/vendtrack"
    done = _vendtrack("token", "list", url=url, tmp_path=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "vendtrack: cannot open the database at postgresql+psycopg://vt:***@127.0.0.1:" in done.stderr
    assert "hunter2" not in done.stderr
    assert "check VENDTRACK_DATABASE_URL" in done.stderr


def test_serve_refuses_a_database_without_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    done = _vendtrack("serve", "--port", str(free_port()), url=url, tmp_path=tmp_path)
    assert done.returncode != 0
    assert f"the database at {url} has no vendtrack tables: run `vendtrack db upgrade` before serving" in done.stderr


def test_schema_problem_names_what_a_database_lacks_and_a_newer_one(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'v.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert schema_problem(engine) is None
        command.downgrade(alembic_config(url), "vending@-1")
        problem = schema_problem(engine)
        assert problem is not None
        assert "lacks this version's migrations up to vending_" in problem
        assert "run `vendtrack db upgrade`" in problem
        upgrade(url)
        assert schema_problem(engine) is None
        with engine.begin() as connection:  # a revision this version does not know: a newer vendtrack migrated it
            connection.execute(text("UPDATE alembic_version SET version_num = 'vending_9999_future' "
                                    "WHERE version_num LIKE 'vending_%'"))  # fmt: skip
        newer = schema_problem(engine)
        assert newer is not None and "was migrated by a newer vendtrack (" in newer and "vending_9999_future" in newer
    finally:
        engine.dispose()


def test_the_tests_databases_made_from_the_models_are_served(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert schema_problem(engine) is None
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_upgraded_database_is_not_refused(database_url: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    upgrade(url)
    done = _vendtrack("token", "list", url=url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
