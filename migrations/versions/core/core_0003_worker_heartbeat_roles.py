"""worker heartbeats move to core.heartbeats: role, kind, process, state, activity, counters

Heartbeat rows are liveness data a few seconds old, so the table is recreated rather than altered.

Revision ID: core_0003_worker_heartbeat_roles
Revises: core_0002
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "core_0003_worker_heartbeat_roles"
down_revision = "core_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("worker_heartbeat")
    op.create_table(
        "worker_heartbeat",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("process", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("beat_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("silent_after_seconds", sa.Float(), nullable=True),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeat")),
    )
    op.create_index(op.f("ix_worker_heartbeat_role"), "worker_heartbeat", ["role"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_heartbeat_role"), table_name="worker_heartbeat")
    op.drop_table("worker_heartbeat")
    op.create_table(
        "worker_heartbeat",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("beat_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeat")),
    )
