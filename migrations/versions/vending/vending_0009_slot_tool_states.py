"""slot state and tool status CHECK constraints from their transition tables (vending.slot_states, tool_states)

Revision ID: vending_0009_slot_tool_states
Revises: vending_0008_kiosk_language
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from alembic import op

revision = "vending_0009_slot_tool_states"
down_revision = "vending_0008_kiosk_language"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the lists it was written with
SLOT_STATES = ("ok", "jammed", "disabled")
TOOL_STATUSES = ("available", "out", "repair", "lost")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("vending_slot", schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.create_check_constraint("slot_state_valid", _in("state", SLOT_STATES))
    with op.batch_alter_table("vending_tool", schema=None) as batch_op:
        batch_op.create_check_constraint("tool_status_valid", _in("status", TOOL_STATUSES))


def downgrade() -> None:
    with op.batch_alter_table("vending_tool", schema=None) as batch_op:
        batch_op.drop_constraint("tool_status_valid", type_="check")
    with op.batch_alter_table("vending_slot", schema=None) as batch_op:
        batch_op.drop_constraint("slot_state_valid", type_="check")
