"""stock lots: per-slot lots (batch, expiry, quantity) and which lots each ledger movement touched

Revision ID: vending_0007_stock_lots
Revises: vending_0006_kiosk_state
Create Date: 2026-12-06 23:59:43.313877
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "vending_0007_stock_lots"
down_revision = "vending_0006_kiosk_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vending_slot_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("first_in", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_vending_slot_lot_lot_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["vending_slot.id"], name=op.f("fk_vending_slot_lot_slot_id_vending_slot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vending_slot_lot")),
    )
    with op.batch_alter_table("vending_slot_lot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vending_slot_lot_slot_id"), ["slot_id"], unique=False)

    op.create_table(
        "vending_ledger_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("slot_lot_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["vending_ledger.id"], name=op.f("fk_vending_ledger_lot_ledger_id_vending_ledger")
        ),
        sa.ForeignKeyConstraint(
            ["slot_lot_id"], ["vending_slot_lot.id"], name=op.f("fk_vending_ledger_lot_slot_lot_id_vending_slot_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vending_ledger_lot")),
    )
    with op.batch_alter_table("vending_ledger_lot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vending_ledger_lot_ledger_id"), ["ledger_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vending_ledger_lot_slot_lot_id"), ["slot_lot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vending_ledger_lot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vending_ledger_lot_slot_lot_id"))
        batch_op.drop_index(batch_op.f("ix_vending_ledger_lot_ledger_id"))

    op.drop_table("vending_ledger_lot")
    with op.batch_alter_table("vending_slot_lot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vending_slot_lot_slot_id"))

    op.drop_table("vending_slot_lot")
