"""vending_0010_member_index: group members indexed by (group_id, worker_id), and back, with the members kept."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from core.db import make_engine
from migrations import alembic_config, upgrade

BEFORE = "vending@vending_0009_slot_tool_states"


def _indexes(url: str) -> dict[str, list[str | None]]:
    engine = make_engine(url)
    try:
        return {ix["name"] or "": ix["column_names"] for ix in inspect(engine).get_indexes("vending_group_member")}
    finally:
        engine.dispose()


def _members(url: str) -> list[tuple[int, int]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT group_id, worker_id FROM vending_group_member ORDER BY 1, 2"))
            return [(int(g), int(w)) for g, w in rows]
    finally:
        engine.dispose()


def test_the_members_index_goes_up_and_down(empty_url: str) -> None:
    upgrade(empty_url)
    assert _indexes(empty_url) == {"ix_vending_group_member_group_worker": ["group_id", "worker_id"]}
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO vending_group (id, name) VALUES (1, 'Welders'), (2, 'Painters')"))
        workers = "(1, 'W1', 'Ada', '', true, false, 0), (2, 'W2', 'Bo', '', true, false, 0)"
        columns = "id, worker_code, name, pin_hash, active, restocker, failed_pins"
        conn.execute(text(f"INSERT INTO vending_worker ({columns}) VALUES {workers}"))
        conn.execute(text("INSERT INTO vending_group_member (group_id, worker_id) VALUES (1, 1), (1, 2), (2, 2)"))
    engine.dispose()
    command.downgrade(alembic_config(empty_url), BEFORE)
    assert _indexes(empty_url) == {"ix_vending_group_member_group_id": ["group_id"]}
    assert _members(empty_url) == [(1, 1), (1, 2), (2, 2)]
    upgrade(empty_url)
    assert _indexes(empty_url) == {"ix_vending_group_member_group_worker": ["group_id", "worker_id"]}
    assert _members(empty_url) == [(1, 1), (1, 2), (2, 2)]
