"""Fleet tables: the edges a central server knows, its configuration change feed, and the facts edges sent up.

Central side: `FleetEdge` (one per enrolled edge: its site, its hashed one-time enrolment code, its API token,
what it last reported), `FleetChange` (the change feed: one row per changed row of central-owned configuration,
its id is the version), `FleetFact` (each shop-floor fact an edge forwarded, once by event id) and
`FleetOverrun` (a limit exceeded across edges, found when the facts arrived). Edge side: `FleetState`, the
edge's own sync state (version it runs, last pull, why it stopped).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class FleetEdge(Base):
    __tablename__ = "fleet_edge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    machines: Mapped[str] = mapped_column(Text, default="")  # comma-separated machine codes it owns
    enrol_code_hash: Mapped[str] = mapped_column(String(64), default="", index=True)  # SHA-256; "" once used
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str] = mapped_column(String(300), default="")
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    config_version: Mapped[int] = mapped_column(Integer, default=0)  # the version the edge says it runs
    software_version: Mapped[str] = mapped_column(String(64), default="")
    backlog: Mapped[int] = mapped_column(Integer, default=0)  # events it still has to forward
    oldest_waiting_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")  # its forwarder's, as it reported it
    devices: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{"machine", "state", "detail"}]


class FleetChange(Base):
    """One changed row of central-owned configuration; `id` is the feed's version. site_id None: every edge."""

    __tablename__ = "fleet_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(String(200))  # JSON of the primary key values
    op: Mapped[str] = mapped_column(String(8))  # upsert, delete
    row: Mapped[str] = mapped_column(Text, default="{}")  # JSON of the row's columns (upsert)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class FleetFact(Base):
    """A shop-floor fact that reached the central server from an edge, once by its event id."""

    __tablename__ = "fleet_fact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    site_code: Mapped[str] = mapped_column(String(32), index=True)
    machine: Mapped[str] = mapped_column(String(32), default="")
    slot: Mapped[str] = mapped_column(String(16), default="")
    sku: Mapped[str] = mapped_column(String(64), default="")
    worker: Mapped[str] = mapped_column(String(64), default="", index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    on_hand: Mapped[int | None] = mapped_column(Integer, nullable=True)  # stock level facts
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FleetOverrun(Base):
    """A worker's limit exceeded once the facts of several edges were put together (a report, not a refusal)."""

    __tablename__ = "fleet_overrun"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)  # the fact that crossed the limit
    worker: Mapped[str] = mapped_column(String(64))
    rule_name: Mapped[str] = mapped_column(String(100))
    limit_quantity: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)
    sites: Mapped[str] = mapped_column(String(300))  # the sites whose takes add up
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)


class FleetState(Base):
    """Edge side: one row per setting of this edge's sync (version, last pull, the reason it stopped)."""

    __tablename__ = "fleet_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
