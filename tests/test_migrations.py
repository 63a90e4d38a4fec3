"""Upgrading an empty database with every package's migrations gives exactly the models' schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.db import make_engine
from migrations import upgrade
from migrations.models import load_all_models


def _database(kind: str, tmp_path: Path, postgres_server: object) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    if postgres_server is None:
        pytest.skip("VENDTRACK_TEST_DATABASE_URL not set")
    return postgres_server.create_database("vt_migr")  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_gives_models_schema(kind: str, tmp_path: Path, postgres_server: object) -> None:
    url = _database(kind, tmp_path, postgres_server)
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), load_all_models())
    engine.dispose()
    assert diff == [], f"migrations and models differ: {diff}"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_audit_log_is_append_only_in_the_database(kind: str, tmp_path: Path, postgres_server: object) -> None:
    url = _database(kind, tmp_path, postgres_server)
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before_json, after_json, "
                "comment) VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c', '1', 'null', 'null', '')"
            )
        )
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from migrations import alembic_config

    url = f"sqlite:///{tmp_path / 'twice.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        first = set(MigrationContext.configure(conn).get_current_heads())
    upgrade(url)
    with engine.connect() as conn:
        second = set(MigrationContext.configure(conn).get_current_heads())
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    # core_0001 is a script head but sits below every domain branch (depends_on), so it is not recorded.
    assert first == second, "a second upgrade changes nothing"
    assert second and second <= heads and heads - second <= {"core_0001"}
    assert {"site", "outbox_event", "audit_log"} <= tables
