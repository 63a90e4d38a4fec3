"""gateway inbox: HTTP uploads accepted by a web process, waiting for the location engine's next flush

Revision ID: tracking_0004_gateway_inbox
Revises: tracking_0003_tool_custody
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "tracking_0004_gateway_inbox"
down_revision = "tracking_0003_tool_custody"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_gateway_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("heartbeat", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_gateway_inbox")),
    )


def downgrade() -> None:
    op.drop_table("tracking_gateway_inbox")
