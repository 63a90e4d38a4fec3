"""receiving by scan: the supplier pack's GTIN, lot and expiry on each receipt

Revision ID: procurement_0006_scan_receiving
Revises: procurement_0005_supplier_docs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "procurement_0006_scan_receiving"
down_revision = "procurement_0005_supplier_docs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proc_supplier_item") as batch:
        batch.add_column(sa.Column("gtin", sa.String(length=14), nullable=True))
        batch.create_index("ix_proc_supplier_item_gtin", ["gtin"])
    with op.batch_alter_table("proc_receipt") as batch:
        batch.add_column(sa.Column("lot", sa.String(length=20), server_default="", nullable=False))
        batch.add_column(sa.Column("expiry", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proc_receipt") as batch:
        batch.drop_column("expiry")
        batch.drop_column("lot")
    with op.batch_alter_table("proc_supplier_item") as batch:
        batch.drop_index("ix_proc_supplier_item_gtin")
        batch.drop_column("gtin")
