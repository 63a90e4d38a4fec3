"""fleet: a worker's takes at other edges, as the central server reports them (vending_remote_usage)

Revision ID: vending_0005_remote_usage
Revises: vending_0004_dispense_status
Create Date: 2026-12-06 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "vending_0005_remote_usage"
down_revision = "vending_0004_dispense_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vending_remote_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vending_remote_usage")),
        sa.UniqueConstraint("event_key", name=op.f("uq_vending_remote_usage_event_key")),
    )
    with op.batch_alter_table("vending_remote_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vending_remote_usage_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_vending_remote_usage_worker_id"), ["worker_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vending_remote_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vending_remote_usage_worker_id"))
        batch_op.drop_index(batch_op.f("ix_vending_remote_usage_at"))
    op.drop_table("vending_remote_usage")
