"""indexes a full replenishment reads its bounds and low pairs by; the PO line's po_id index dropped as redundant

The highest min, reorder level and service level of the active policies of each kind are read from indexes on
(kind, active, column) without a scan of the policies; the pairs whose on-hand is below the highest trigger from
one on the stock view's (on_hand, item_id, site_id). A PO line's own index on po_id repeats the first column of
the unique (po_id, line_number), which serves every look-up by order: each of the tens of thousands of lines a
run inserts no longer updates it.

Revision ID: procurement_0011_replen_idx
Revises: procurement_0010_demand_rowid
"""

from __future__ import annotations

from alembic import op

revision = "procurement_0011_replen_idx"
down_revision = "procurement_0010_demand_rowid"
branch_labels = None
depends_on = None

INDEXES = (
    ("proc_reorder_policy", "ix_proc_reorder_policy_top_min", ["kind", "active", "min_qty"]),
    ("proc_reorder_policy", "ix_proc_reorder_policy_top_level", ["kind", "active", "reorder_level"]),
    ("proc_reorder_policy", "ix_proc_reorder_policy_top_service", ["kind", "active", "service_level"]),
    ("proc_stock_view", "ix_proc_stock_view_on_hand", ["on_hand", "item_id", "site_id"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.drop_index("ix_proc_po_line_po_id", table_name="proc_po_line")


def downgrade() -> None:
    op.create_index("ix_proc_po_line_po_id", "proc_po_line", ["po_id"], unique=False)
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
