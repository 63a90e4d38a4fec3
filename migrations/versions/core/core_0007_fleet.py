"""fleet: edges, the configuration change feed, facts from edges, overruns across edges, edge sync state

Revision ID: core_0007_fleet
Revises: core_0006_delivery_status
Create Date: 2026-12-06 17:29:17.499663
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "core_0007_fleet"
down_revision = "core_0006_delivery_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("row", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_change")),
    )
    with op.batch_alter_table("fleet_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fleet_change_site_id"), ["site_id"], unique=False)

    op.create_table(
        "fleet_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("machine", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=True),
        sa.Column("occurred_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_fact")),
        sa.UniqueConstraint("event_key", name=op.f("uq_fleet_fact_event_key")),
    )
    with op.batch_alter_table("fleet_fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fleet_fact_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fleet_fact_site_code"), ["site_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_fleet_fact_worker"), ["worker"], unique=False)

    op.create_table(
        "fleet_overrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("rule_name", sa.String(length=100), nullable=False),
        sa.Column("limit_quantity", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("sites", sa.String(length=300), nullable=False),
        sa.Column("occurred_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_overrun")),
        sa.UniqueConstraint("event_key", name=op.f("uq_fleet_overrun_event_key")),
    )
    op.create_table(
        "fleet_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_fleet_state")),
    )
    op.create_table(
        "fleet_edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("machines", sa.Text(), nullable=False),
        sa.Column("enrol_code_hash", sa.String(length=64), nullable=False),
        sa.Column("enrol_expires_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=300), nullable=False),
        sa.Column("last_contact_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.Column("oldest_waiting_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("devices", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_fleet_edge_site_id_site")),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"], name=op.f("fk_fleet_edge_token_id_api_token")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_edge")),
        sa.UniqueConstraint("name", name=op.f("uq_fleet_edge_name")),
    )
    with op.batch_alter_table("fleet_edge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fleet_edge_enrol_code_hash"), ["enrol_code_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_fleet_edge_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fleet_edge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fleet_edge_site_id"))
        batch_op.drop_index(batch_op.f("ix_fleet_edge_enrol_code_hash"))

    op.drop_table("fleet_edge")

    op.drop_table("fleet_state")
    op.drop_table("fleet_overrun")
    with op.batch_alter_table("fleet_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fleet_fact_worker"))
        batch_op.drop_index(batch_op.f("ix_fleet_fact_site_code"))
        batch_op.drop_index(batch_op.f("ix_fleet_fact_occurred_at"))

    op.drop_table("fleet_fact")
    with op.batch_alter_table("fleet_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fleet_change_site_id"))

    op.drop_table("fleet_change")
