"""outbox delivery status CHECK constraint from the delivery transition table (core.outbox_tables)

Revision ID: core_0006_delivery_status
Revises: core_0005_item_gtin
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "core_0006_delivery_status"
down_revision = "core_0005_item_gtin"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the list it was written with
STATUSES = ("done", "retry", "dead")


def upgrade() -> None:
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.create_check_constraint(
            "delivery_status_valid", "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:
        batch_op.drop_constraint("delivery_status_valid", type_="check")
