"""user language: the language a signed-in user chose in the language menu ("" = the browser's choice)

Revision ID: core_0008_user_language
Revises: core_0007_fleet
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0008_user_language"
down_revision = "core_0007_fleet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("language")
