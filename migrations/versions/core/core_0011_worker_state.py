"""worker heartbeat state CHECK constraint from the worker transition table (core.heartbeats.WORKER)

Revision ID: core_0011_worker_state
Revises: core_0010_item_asset_type
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from alembic import op

revision = "core_0011_worker_state"
down_revision = "core_0010_item_asset_type"
branch_labels = None
depends_on = None

STATES = ("starting", "running", "down", "backoff", "stopped")  # written out: a migration keeps its own list


def upgrade() -> None:
    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.create_check_constraint("worker_state_valid", "state IN ('" + "', '".join(STATES) + "')")


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:
        batch_op.drop_constraint("worker_state_valid", type_="check")
