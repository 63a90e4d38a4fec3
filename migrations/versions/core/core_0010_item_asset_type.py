"""item asset type: tracking's asset type code an item is bought as (PAR shortfalls order it), "" otherwise

Revision ID: core_0010_item_asset_type
Revises: core_0009_push_notice
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0010_item_asset_type"
down_revision = "core_0009_push_notice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("asset_type", sa.String(length=64), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_column("asset_type")
