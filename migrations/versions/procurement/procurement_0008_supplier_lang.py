"""supplier language: the language of a supplier's PO PDF and e-mail ("" = English)

Revision ID: procurement_0008_supplier_lang
Revises: procurement_0007_equipment_req
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "procurement_0008_supplier_lang"
down_revision = "procurement_0007_equipment_req"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proc_supplier") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("proc_supplier") as batch:
        batch.drop_column("language")
