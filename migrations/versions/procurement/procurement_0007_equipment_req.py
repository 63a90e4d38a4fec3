"""equipment purchase requests: tracking's PAR shortfalls ordered through the approval rules

Revision ID: procurement_0007_equipment_req
Revises: procurement_0006_scan_receiving
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "procurement_0007_equipment_req"
down_revision = "procurement_0006_scan_receiving"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proc_equipment_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("asset_type", sa.String(length=64), nullable=False),
        sa.Column("type_label", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("problem", sa.Text(), server_default="", nullable=False),
        sa.Column("po_number", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'ordered', 'dismissed')",
            name=op.f("ck_proc_equipment_request_equipment_request_status_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proc_equipment_request")),
        sa.UniqueConstraint("event_id", name=op.f("uq_proc_equipment_request_event_id")),
    )
    op.create_index(op.f("ix_proc_equipment_request_asset_type"), "proc_equipment_request", ["asset_type"])


def downgrade() -> None:
    op.drop_index(op.f("ix_proc_equipment_request_asset_type"), table_name="proc_equipment_request")
    op.drop_table("proc_equipment_request")
