"""po status CHECK constraint from the transition table; ordered_via/ordered_at for orders placed by phone, portal, EDI

Revision ID: procurement_0004_po_ordered
Revises: procurement_0003
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "procurement_0004_po_ordered"
down_revision = "procurement_0003"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the list it was written with
STATUSES = ("draft", "pending_approval", "approved", "rejected", "sent", "ordered", "partly_received", "received",
            "closed", "cancelled")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("proc_purchase_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ordered_via", sa.String(length=16), server_default="", nullable=False))
        batch_op.add_column(sa.Column("ordered_at", core.db.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint("po_status_valid", "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")")


def downgrade() -> None:
    with op.batch_alter_table("proc_purchase_order", schema=None) as batch_op:
        batch_op.drop_constraint("po_status_valid", type_="check")
        batch_op.drop_column("ordered_at")
        batch_op.drop_column("ordered_via")
