"""Guided calibration walks: the walk, its "I am in room X" marks (time-to-room-change samples), the tag's adverts

Revision ID: tracking_0006_walk
Revises: tracking_0005_par_shortfall
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "tracking_0006_walk"
down_revision = "tracking_0005_par_shortfall"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_walk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=140), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'finished', 'applied', 'discarded')", name=op.f("ck_tracking_walk_walk_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_walk")),
    )
    with op.batch_alter_table("tracking_walk", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_walk_status", ["status"], unique=False)

    op.create_table(
        "tracking_walk_sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("walk_id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("rssi", sa.Integer(), nullable=False),
        sa.Column("ref_power", sa.Integer(), nullable=True),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["walk_id"], ["tracking_walk.id"], name=op.f("fk_tracking_walk_sighting_walk_id_tracking_walk")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_walk_sighting")),
    )
    with op.batch_alter_table("tracking_walk_sighting", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_walk_sighting_walk_at", ["walk_id", "at"], unique=False)

    op.create_table(
        "tracking_walk_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("walk_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("delay_s", sa.Float(), nullable=True),
        sa.Column("settled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending', 'reached', 'never')", name=op.f("ck_tracking_walk_mark_walk_mark_outcome_valid")
        ),
        sa.ForeignKeyConstraint(
            ["walk_id"], ["tracking_walk.id"], name=op.f("fk_tracking_walk_mark_walk_id_tracking_walk")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["tracking_zone.id"], name=op.f("fk_tracking_walk_mark_zone_id_tracking_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_walk_mark")),
    )
    with op.batch_alter_table("tracking_walk_mark", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_walk_mark_outcome_at", ["outcome", "marked_at"], unique=False)
        batch_op.create_index("ix_tracking_walk_mark_walk_at", ["walk_id", "marked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracking_walk_mark", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_walk_mark_walk_at")
        batch_op.drop_index("ix_tracking_walk_mark_outcome_at")

    op.drop_table("tracking_walk_mark")
    with op.batch_alter_table("tracking_walk_sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_walk_sighting_walk_at")

    op.drop_table("tracking_walk_sighting")
    with op.batch_alter_table("tracking_walk", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_walk_status")

    op.drop_table("tracking_walk")
