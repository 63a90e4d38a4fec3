"""transmission, acknowledgement and invoice status CHECK constraints from their transition tables

Revision ID: procurement_0009_doc_states
Revises: procurement_0008_supplier_lang
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from alembic import op

revision = "procurement_0009_doc_states"
down_revision = "procurement_0008_supplier_lang"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the lists it was written with
CHECKS = (
    ("proc_transmission", "transmission_status_valid", ("queued", "sending", "sent", "failed")),
    ("proc_acknowledgement", "ack_status_valid", ("confirmed", "rejected_by_supplier", "change_proposed",
                                                  "awaiting_approval", "accepted", "declined", "superseded")),
    ("proc_invoice", "invoice_status_valid", ("matched", "held", "approved", "rejected", "exported")),
)  # fmt: skip


def upgrade() -> None:
    for table, name, statuses in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:  # batch: SQLite rebuilds the table
            batch_op.create_check_constraint(name, "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")")


def downgrade() -> None:
    for table, name, _statuses in reversed(CHECKS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="check")
