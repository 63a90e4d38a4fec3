"""Every state column refuses a string its enum does not know, in the migrated schema, on SQLite and PostgreSQL;
the CHECK constraints' migrations go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from core.outbox_tables import DELIVERY, DeliveryStatus
from migrations import alembic_config, upgrade
from vending.dispense_states import DISPENSE, DispenseStatus

# (table, status column, a valid value's enum) for the columns whose CHECK this work added
INSERTS = {
    "vending_dispense": (
        "INSERT INTO vending_dispense (request_key, machine_id, slot_id, worker_id, item_id, quantity, taken, "
        "charge_codes, status, phase, detail, baseline, created_at, updated_at) "
        "VALUES (:key, 1, 1, 1, 1, 1, 0, '{}', :status, '', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ),
    "outbox_delivery": (
        "INSERT INTO outbox_delivery (event_id, consumer, status, attempts, last_error, updated_at) "
        "VALUES (1, :key, :status, 0, '', CURRENT_TIMESTAMP)"
    ),
}


def _url(kind: str, tmp_path: Path, postgres_server: object) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'states.db'}"
    if postgres_server is None:
        pytest.skip("VENDTRACK_TEST_DATABASE_URL not set")
    return postgres_server.create_database("vt_states")  # type: ignore[attr-defined,no-any-return]


def _refuses(url: str, table: str, status: str) -> bool:
    """Whether the database refuses the row because of its status CHECK (other refusals, such as the foreign
    keys this probe does not satisfy, do not count); the row is never kept."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(INSERTS[table]), {"key": f"k-{status}", "status": status})
            conn.rollback()
    except IntegrityError as refused:
        return "status_valid" in str(refused.orig)
    finally:
        engine.dispose()
    return False


def test_the_tables_name_every_state_of_their_enums() -> None:
    assert set(DISPENSE.transitions) == set(DispenseStatus) and set(DELIVERY.transitions) == set(DeliveryStatus)
    assert DISPENSE.through(DispenseStatus.SENSED, DispenseStatus.COMPLETED) == (
        DispenseStatus.COMMANDED,
        DispenseStatus.SENSED,
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_state_columns_refuse_unknown_strings_and_migrations_go_down_and_up(
    kind: str, tmp_path: Path, postgres_server: object
) -> None:
    url = _url(kind, tmp_path, postgres_server)
    upgrade(url)
    for table, states in (("vending_dispense", DispenseStatus), ("outbox_delivery", DeliveryStatus)):
        assert not _refuses(url, table, next(iter(states)).value)
        assert _refuses(url, table, "Done")  # not a value of the enum (case matters)
    config = alembic_config(url)
    command.downgrade(config, "vending@vending_0003_vending_day")
    command.downgrade(config, "core@core_0004_auth_hardening")
    assert not _refuses(url, "vending_dispense", "bogus")
    assert not _refuses(url, "outbox_delivery", "bogus")
    upgrade(url)
    assert _refuses(url, "vending_dispense", "bogus") and _refuses(url, "outbox_delivery", "bogus")
