"""dispense status CHECK constraint from the dispense transition table (vending.dispense_states)

Revision ID: vending_0004_dispense_status
Revises: vending_0003_vending_day
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "vending_0004_dispense_status"
down_revision = "vending_0003_vending_day"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the list it was written with
STATUSES = ("requested", "authorised", "commanded", "sensed", "completed", "refused", "failed")


def upgrade() -> None:
    with op.batch_alter_table("vending_dispense", schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.create_check_constraint(
            "dispense_status_valid", "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"
        )


def downgrade() -> None:
    with op.batch_alter_table("vending_dispense", schema=None) as batch_op:
        batch_op.drop_constraint("dispense_status_valid", type_="check")
