"""tool custody: loans of tagged tools followed by tracking, and FOD (must-return) limits on zones

Revision ID: tracking_0003_tool_custody
Revises: tracking_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "tracking_0003_tool_custody"
down_revision = "tracking_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracking_zone") as batch:
        batch.add_column(sa.Column("fod_limit_min", sa.Integer(), nullable=True))
    op.create_table(
        "tracking_tool_custody",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("charge_code", sa.String(length=64), nullable=False),
        sa.Column("out_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("due_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("out_zone_id", sa.Integer(), nullable=True),
        sa.Column("returned_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("return_zone_id", sa.Integer(), nullable=True),
        sa.Column("return_condition", sa.String(length=16), nullable=False),
        sa.Column("return_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["tracking_asset.id"], name=op.f("fk_tracking_tool_custody_asset_id_tracking_asset")
        ),
        sa.ForeignKeyConstraint(
            ["out_zone_id"], ["tracking_zone.id"], name=op.f("fk_tracking_tool_custody_out_zone_id_tracking_zone")
        ),
        sa.ForeignKeyConstraint(
            ["return_zone_id"], ["tracking_zone.id"], name=op.f("fk_tracking_tool_custody_return_zone_id_tracking_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_tool_custody")),
    )
    op.create_index("ix_tracking_tool_custody_open", "tracking_tool_custody", ["serial", "returned_at"])
    op.create_index(op.f("ix_tracking_tool_custody_asset_id"), "tracking_tool_custody", ["asset_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tracking_tool_custody_asset_id"), table_name="tracking_tool_custody")
    op.drop_index("ix_tracking_tool_custody_open", table_name="tracking_tool_custody")
    op.drop_table("tracking_tool_custody")
    with op.batch_alter_table("tracking_zone") as batch:
        batch.drop_column("fod_limit_min")
