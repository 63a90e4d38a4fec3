"""indexes a full replenishment reads its bounds and low pairs by; the PO line's po_id index dropped as redundant

The highest min, reorder level and service level of each kind's policies are read from the top of a partial index
on the value (WHERE kind = ...) without a scan of the policies; the pairs whose on-hand is below the highest trigger
from an index on the stock view's (on_hand, item_id, site_id). A PO line's own index on po_id repeats the first
column of the unique (po_id, line_number), which serves every look-up by order: the tens of thousands of lines a
full run inserts no longer update it.

Revision ID: procurement_0011_replen_idx
Revises: procurement_0010_demand_rowid
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "procurement_0011_replen_idx"
down_revision = "procurement_0010_demand_rowid"
branch_labels = None
depends_on = None

TOPS = (
    ("ix_proc_reorder_policy_top_min", "min_qty", "min_max"),
    ("ix_proc_reorder_policy_top_level", "reorder_level", "reorder_level"),
    ("ix_proc_reorder_policy_top_service", "service_level", "auto_rop"),
)


def upgrade() -> None:
    for name, column, kind in TOPS:
        where = sa.text(f"kind = '{kind}'")
        op.create_index(name, "proc_reorder_policy", [column], unique=False, sqlite_where=where,
                        postgresql_where=where)  # fmt: skip
    op.create_index("ix_proc_stock_view_on_hand", "proc_stock_view", ["on_hand", "item_id", "site_id"], unique=False)
    op.drop_index("ix_proc_po_line_po_id", table_name="proc_po_line")


def downgrade() -> None:
    op.create_index("ix_proc_po_line_po_id", "proc_po_line", ["po_id"], unique=False)
    op.drop_index("ix_proc_stock_view_on_hand", table_name="proc_stock_view")
    for name, _column, _kind in reversed(TOPS):
        op.drop_index(name, table_name="proc_reorder_policy")
