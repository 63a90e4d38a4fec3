"""gateway status CHECK constraint from its transition table (tracking.states.GATEWAY_STATUS)

Revision ID: tracking_0007_gateway_status
Revises: tracking_0006_walk
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from alembic import op

revision = "tracking_0007_gateway_status"
down_revision = "tracking_0006_walk"
branch_labels = None
depends_on = None

STATUSES = ("up", "down")  # written out, not imported: a migration keeps the list it was written with


def upgrade() -> None:
    with op.batch_alter_table("tracking_gateway", schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.create_check_constraint("gateway_status_valid", "status IN ('" + "', '".join(STATUSES) + "')")


def downgrade() -> None:
    with op.batch_alter_table("tracking_gateway", schema=None) as batch_op:
        batch_op.drop_constraint("gateway_status_valid", type_="check")
