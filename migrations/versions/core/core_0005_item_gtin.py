"""item GTIN: the GS1 trade item number of one unit, for receiving and restocking by scan

Revision ID: core_0005_item_gtin
Revises: core_0004_auth_hardening
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0005_item_gtin"
down_revision = "core_0004_auth_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("gtin", sa.String(length=14), nullable=True))
        batch.create_index("ix_item_gtin", ["gtin"])


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_index("ix_item_gtin")
        batch.drop_column("gtin")
