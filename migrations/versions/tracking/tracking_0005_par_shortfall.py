"""PAR shortfalls: an asset type short across the site after every rebalancing move, until purchasing is asked

Revision ID: tracking_0005_par_shortfall
Revises: tracking_0004_gateway_inbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "tracking_0005_par_shortfall"
down_revision = "tracking_0004_gateway_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_par_shortfall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_type", sa.String(length=64), nullable=False),
        sa.Column("first_short_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("requested_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cleared_at", core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_par_shortfall")),
    )
    op.create_index("ix_tracking_par_shortfall_type_cleared", "tracking_par_shortfall", ["asset_type", "cleared_at"])


def downgrade() -> None:
    op.drop_index("ix_tracking_par_shortfall_type_cleared", table_name="tracking_par_shortfall")
    op.drop_table("tracking_par_shortfall")
