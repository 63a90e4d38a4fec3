"""The outbox's tables and delivery states: events as written, and per (event, consumer) how delivery stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.states import State, StateMachine


class DeliveryStatus(State):
    """Where one (event, consumer) delivery stands; a delivery row is written on the first outcome."""

    DONE = "done"  # the processed marker: the consumer's effect committed with it
    RETRY = "retry"  # failed, tried again at next_attempt_at
    DEAD = "dead"  # a dead letter after max_attempts; an operator may send it back for more tries


DONE, RETRY, DEAD = DeliveryStatus.DONE, DeliveryStatus.RETRY, DeliveryStatus.DEAD
DELIVERY: StateMachine[DeliveryStatus] = StateMachine(
    "outbox delivery",
    DeliveryStatus,
    {
        RETRY: {DONE: "deliver", RETRY: "fail", DEAD: "give_up"},
        DEAD: {RETRY: "retry_dead_letters"},
        DONE: {},
    },
    tones={DONE: "good", RETRY: "warn", DEAD: "bad"},
)


class OutboxEvent(Base):
    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxDelivery(Base):
    """Per (event, consumer): the processed marker (`done`), a pending retry, or a dead letter."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "consumer"),
        DELIVERY.check_constraint("status", "delivery_status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id"))
    consumer: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
