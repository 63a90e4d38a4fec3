"""kiosk state: what each kiosk screen shows or waits for, readable by every serving process

Revision ID: vending_0006_kiosk_state
Revises: vending_0005_remote_usage
Create Date: 2026-12-06 17:33:30.604606
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "vending_0006_kiosk_state"
down_revision = "vending_0005_remote_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vending_kiosk_state",
        sa.Column("machine_code", sa.String(length=32), nullable=False),
        sa.Column("badge", sa.String(length=200), nullable=True),
        sa.Column("badge_seq", sa.Integer(), nullable=False),
        sa.Column("badge_taken_seq", sa.Integer(), nullable=False),
        sa.Column("badge_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispense_id", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("phase_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("screen_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("machine_code", name=op.f("pk_vending_kiosk_state")),
    )


def downgrade() -> None:
    op.drop_table("vending_kiosk_state")
