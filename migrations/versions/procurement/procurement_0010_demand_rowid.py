"""demand statistics kept in their key's order on SQLite (WITHOUT ROWID): one B-tree descent per (item, site)

A replenishment reads the rolling sums of every automatic-reorder-point pair by (item_id, site_id) and the event
consumer updates them by that key; in a rowid table each look-up is a descent of the key's index and another of the
table. PostgreSQL keeps its heap and primary-key index: nothing changes there.

Revision ID: procurement_0010_demand_rowid
Revises: procurement_0009_doc_states
"""

from __future__ import annotations

from alembic import op

revision = "procurement_0010_demand_rowid"
down_revision = "procurement_0009_doc_states"
branch_labels = None
depends_on = None


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "proc_demand_stat", recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ):  # batch: SQLite copies the rows into the rebuilt table
        pass


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
