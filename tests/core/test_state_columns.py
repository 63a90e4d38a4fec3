"""Every state column refuses a string its enum does not know, in the migrated schema, on SQLite and PostgreSQL;
the CHECK constraints' migrations go down and up again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.exc import IntegrityError

from core.db import Base, make_engine
from core.outbox_tables import DELIVERY, DeliveryStatus
from migrations import alembic_config, upgrade
from migrations.models import load_all_models
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


NOT_A_STATE = {("proc_site_settings", "state")}  # a postal address's state / region


def test_every_status_column_has_a_check_naming_the_values_of_its_enum() -> None:
    """A column named status or state holds a state: the database refuses any other value (issue 16)."""
    load_all_models()
    missing = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name not in ("status", "state") or (table.name, column.name) in NOT_A_STATE:
                continue
            named = (str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint))
            if not any(f"{column.name} IN (" in text for text in named):
                missing.append(f"{table.name}.{column.name}")
    assert not missing, f"state columns without a CHECK from their StateMachine: {missing}"


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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migrated_schema_has_every_state_check_and_they_go_down_and_up(
    kind: str, tmp_path: Path, postgres_server: object
) -> None:
    """The migrations give the database the same state CHECKs as the models (the slot, tool, gateway, worker,
    transmission, acknowledgement and invoice ones were added by migrations of their own)."""
    url = _url(kind, tmp_path, postgres_server)
    upgrade(url)
    load_all_models()
    values = {  # (table, column) → the values its model's CHECK allows
        (table.name, column.name): set(re.findall(r"'(\w+)'", str(check.sqltext)))
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for check in table.constraints
        if isinstance(check, CheckConstraint) and f"{column.name} IN (" in str(check.sqltext)
        and column.name in ("status", "state")
    }  # fmt: skip
    wanted = set(values)

    def checked() -> set[tuple[str, str]]:
        """The state columns whose migrated CHECK names every value (PostgreSQL reflects IN as = ANY (ARRAY[...]))."""
        engine = make_engine(url)
        try:
            found = inspect(engine)
            return {
                (table, column)
                for table, column in wanted
                if any(column in (c.get("sqltext") or "")
                       and values[table, column] <= set(re.findall(r"'(\w+)'", c.get("sqltext") or ""))
                       for c in found.get_check_constraints(table))
            }  # fmt: skip
        finally:
            engine.dispose()

    assert checked() == wanted
    config = alembic_config(url)
    for target in ("vending@vending_0008_kiosk_language", "tracking@tracking_0006_walk",
                   "procurement@procurement_0008_supplier_lang", "core@core_0010_item_asset_type"):  # fmt: skip
        command.downgrade(config, target)
    assert {("vending_slot", "state"), ("proc_invoice", "status"), ("worker_heartbeat", "state")}.isdisjoint(checked())
    upgrade(url)
    assert checked() == wanted
