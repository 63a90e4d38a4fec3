"""push notices: SQLite's log of push notices between serving processes (core.push; PostgreSQL uses NOTIFY)

Revision ID: core_0009_push_notice
Revises: core_0008_user_language
Create Date: 2026-12-06 17:33:26.173705
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "core_0009_push_notice"
down_revision = "core_0008_user_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_notice",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_notice")),
    )
    with op.batch_alter_table("push_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_notice_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_notice_created_at"))
    op.drop_table("push_notice")
