"""kiosk language: the language a machine's kiosk shows, and a worker's own language after sign-in ("" = none)

Revision ID: vending_0008_kiosk_language
Revises: vending_0007_stock_lots
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "vending_0008_kiosk_language"
down_revision = "vending_0007_stock_lots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("vending_machine", "vending_worker"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("language", sa.String(length=8), server_default="", nullable=False))


def downgrade() -> None:
    for table in ("vending_worker", "vending_machine"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
