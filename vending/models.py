"""Vending tables: machines, slots and stock, workers and credentials, rules, charge codes, ledger, dispenses, tools."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from vending.dispense_states import DISPENSE
from vending.slot_states import SLOT, SlotState
from vending.tool_states import TOOL, ToolStatus


class Machine(Base):
    __tablename__ = "vending_machine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # locker_bank, coil_machine, scale_shelf, supply_cabinet
    driver_config: Mapped[str] = mapped_column(Text, default="{}")  # JSON, validated on save
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")  # kiosk's; "" = browser's


class Slot(Base):
    __tablename__ = "vending_slot"
    __table_args__ = (UniqueConstraint("machine_id", "code"), SLOT.check_constraint("state", "slot_state_valid"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("vending_machine.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # "A3"
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"), nullable=True, index=True)
    device_ref: Mapped[str] = mapped_column(String(64), default="")  # lock name, coil selection, scale key
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    min_level: Mapped[int] = mapped_column(Integer, default=0)
    max_level: Mapped[int] = mapped_column(Integer, default=1)
    unit_weight_g: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=SlotState.OK.value)  # SlotState
    state_reason: Mapped[str] = mapped_column(Text, default="")


class SlotStock(Base):
    """The running on-hand per slot, locked FOR UPDATE by every ledger write (never summed from the ledger)."""

    __tablename__ = "vending_slot_stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    )

    slot_id: Mapped[int] = mapped_column(ForeignKey("vending_slot.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # authorised dispenses not yet finished


class WorkerGroup(Base):
    __tablename__ = "vending_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Worker(Base):
    __tablename__ = "vending_worker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_code: Mapped[str] = mapped_column(String(64), unique=True)  # employee ID typed with the PIN
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    pin_hash: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    restocker: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")  # "" = the kiosk's


class GroupMember(Base):
    """A worker in a group. (group_id, worker_id) is indexed so a pooled rule's members are read from the index
    alone (an index-only scan on PostgreSQL; vending.rules)."""

    __tablename__ = "vending_group_member"
    __table_args__ = (Index("ix_vending_group_member_group_worker", "group_id", "worker_id"),)

    worker_id: Mapped[int] = mapped_column(ForeignKey("vending_worker.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("vending_group.id"), primary_key=True)


class Credential(Base):
    __tablename__ = "vending_credential"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("vending_worker.id"), index=True)
    value: Mapped[str] = mapped_column(String(80), unique=True)  # normalised: "MF:04A22B1C", "HID:123:45678"
    label: Mapped[str] = mapped_column(String(100), default="")


class UnknownBadge(Base):
    __tablename__ = "vending_unknown_badge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(80), unique=True)
    raw: Mapped[str] = mapped_column(String(200))
    machine_code: Mapped[str] = mapped_column(String(32), default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    enrolled: Mapped[bool] = mapped_column(Boolean, default=False)


class Rule(Base):
    """A quantity limit per window for whoever it applies to (everyone at a site, a group, a worker)."""

    __tablename__ = "vending_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("vending_worker.id"), nullable=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("vending_group.id"), nullable=True)
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)  # group rule counts the whole group's usage
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"), nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    window: Mapped[str] = mapped_column(String(16))  # shift, day, week, rolling
    rolling_hours: Mapped[int] = mapped_column(Integer, default=24)
    shift_starts: Mapped[str] = mapped_column(String(64), default="06:00,14:00,22:00")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ItemRestriction(Base):
    """An item with rows here may only be taken by members of one of the listed groups."""

    __tablename__ = "vending_item_restriction"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("vending_group.id"), primary_key=True)


class ChargePolicy(Base):
    __tablename__ = "vending_charge_policy"
    __table_args__ = (UniqueConstraint("site_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[str] = mapped_column(String(16))  # job, work_order, cost_center
    mode: Mapped[str] = mapped_column(String(16), default="off")  # off, optional, required, in_list


class ChargeCode(Base):
    __tablename__ = "vending_charge_code"
    __table_args__ = (UniqueConstraint("site_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LedgerEntry(Base):
    """One stock movement of a slot; `quantity` is the signed change, `idempotency_key` makes writes exactly-once."""

    __tablename__ = "vending_ledger"
    __table_args__ = (
        Index("ix_vending_ledger_worker_at", "worker_id", "at"),
        Index("ix_vending_ledger_slot_at", "slot_id", "at"),
        Index("ix_vending_ledger_item_at", "item_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("vending_slot.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    kind: Mapped[str] = mapped_column(String(16))  # issue, return, restock, adjust, count
    quantity: Mapped[int] = mapped_column(Integer)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("vending_worker.id"), nullable=True)
    dispense_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    charge_codes: Mapped[str] = mapped_column(Text, default="{}")
    reason: Mapped[str] = mapped_column(Text, default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    actor: Mapped[str] = mapped_column(String(100), default="")


class SlotLot(Base):
    """Units of one lot (batch and expiry from the label) in one slot; kept in step with the ledger (vending.lots).

    A slot's units beyond the sum of its lots are untracked (stock from before lots, returns, shelf surplus)."""

    __tablename__ = "vending_slot_lot"
    __table_args__ = (CheckConstraint("quantity >= 0", name="lot_quantity_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("vending_slot.id"), index=True)
    lot: Mapped[str] = mapped_column(String(20), default="")  # GS1 AI (10); "" when the label had none
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)  # GS1 AI (17)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    first_in: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerLot(Base):
    """Which lot a ledger movement put in or took out, and how many (signed as the movement): one row per lot."""

    __tablename__ = "vending_ledger_lot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("vending_ledger.id"), index=True)
    slot_lot_id: Mapped[int] = mapped_column(ForeignKey("vending_slot_lot.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Dispense(Base):
    """One requested take from one slot, moved through the dispense state machine (see vending.dispense)."""

    __tablename__ = "vending_dispense"
    __table_args__ = (DISPENSE.check_constraint("status", "dispense_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_key: Mapped[str] = mapped_column(String(120), unique=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("vending_machine.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("vending_slot.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("vending_worker.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    charge_codes: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), index=True)
    phase: Mapped[str] = mapped_column(String(32), default="")  # what the kiosk shows while hardware moves
    detail: Mapped[str] = mapped_column(Text, default="")
    baseline: Mapped[str] = mapped_column(Text, default="{}")  # device state before the command (for reconcile)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Tool(Base):
    __tablename__ = "vending_tool"
    __table_args__ = (TOOL.check_constraint("status", "tool_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ToolStatus.AVAILABLE.value)  # ToolStatus
    inspection_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    calibration_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ToolLoan(Base):
    __tablename__ = "vending_tool_loan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("vending_tool.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("vending_worker.id"))
    out_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    condition: Mapped[str] = mapped_column(String(16), default="")  # ok, damaged, lost
    overdue_notified: Mapped[bool] = mapped_column(Boolean, default=False)


class KioskPairing(Base):
    """A browser paired as one machine's kiosk: its DEVICE token (core's api_token) opens that machine only.

    The token itself lives in core (hashed, listed and revoked on /admin/tokens); this row binds it to the machine.
    """

    __tablename__ = "vending_kiosk_pairing"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("vending_machine.id"), index=True)
    paired_by: Mapped[str] = mapped_column(String(100))  # the admin's audit actor
    paired_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CountReview(Base):
    """A manager's answer to a flagged count (a ledger row of kind "count" with a difference): accept or recount."""

    __tablename__ = "vending_count_review"

    ledger_id: Mapped[int] = mapped_column(ForeignKey("vending_ledger.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))  # accepted, recount
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class ItemPicture(Base):
    """The picture shown on kiosk tiles: re-encoded on upload (never the uploaded bytes), served as content_type."""

    __tablename__ = "vending_item_picture"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class ChargebackRun(Base):
    """One row per month's chargeback e-mail: claimed by one sender (no transaction open while it sends), then sent."""

    __tablename__ = "vending_chargeback_run"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recipients: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))


class RemoteUsage(Base):
    """Edge side: a worker's takes at other edges, as the central server last reported them (vending.remote_usage).

    Replaced as a whole on each configuration pull; the rules count these beside the edge's own ledger."""

    __tablename__ = "vending_remote_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    worker_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64), default="general")
    quantity: Mapped[int] = mapped_column(Integer)  # taken (returns negative)
    site_code: Mapped[str] = mapped_column(String(32), default="")


class KioskState(Base):
    """What a kiosk screen is showing or waiting for, readable by every process (see vending.kiosk_state)."""

    __tablename__ = "vending_kiosk_state"

    machine_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    badge: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the last serial reader read
    badge_seq: Mapped[int] = mapped_column(Integer, default=0)  # bumped by each read
    badge_taken_seq: Mapped[int] = mapped_column(Integer, default=0)  # the last read a screen took
    badge_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dispense_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the dispense the phase is of
    phase: Mapped[str] = mapped_column(String(32), default="")
    phase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    screen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # a screen last (re)connected
