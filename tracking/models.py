"""Tracking tables: zones on a floor plan, gateways, tags, assets, location intervals, PAR rules and alerts.

Raw adverts are never stored one row each: only zone changes (intervals) and batched last-seen updates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

ASSET_STATUSES = ("clean", "dirty", "in_use", "maintenance")
ALERT_KINDS = ("zone_exit", "missing", "battery_low", "below_par", "gateway_down")


class Zone(Base):
    __tablename__ = "tracking_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(64), default="")
    floor: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(20), default="room")  # room, corridor, exit, soiled_utility
    polygon: Mapped[str] = mapped_column(Text, default="")  # "x,y x,y ..." in metres on the floor plan
    max_radius_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(64), default="")  # the care unit this zone belongs to


class Gateway(Base):
    __tablename__ = "tracking_gateway"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("tracking_zone.id"))
    x: Mapped[float] = mapped_column(Float, default=0.0)
    y: Mapped[float] = mapped_column(Float, default=0.0)
    offset_db: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(8), default="up")
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Tag(Base):
    __tablename__ = "tracking_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_key: Mapped[str] = mapped_column(String(100), unique=True)
    battery_mv: Mapped[int | None] = mapped_column(Integer, nullable=True)
    temperature_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Asset(Base):
    __tablename__ = "tracking_asset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_tag: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(64), index=True)
    serial: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(64), default="")  # owning unit
    status: Mapped[str] = mapped_column(String(16), default="clean")
    home_zone_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_zone.id"), nullable=True)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_tag.id"), nullable=True, unique=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_zone.id"), nullable=True)
    zone_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    location_reason: Mapped[str] = mapped_column(Text, default="")


class LocationInterval(Base):
    """The asset was in `zone_id` (None = unknown) from `started_at` until `ended_at` (None = still)."""

    __tablename__ = "tracking_location_interval"
    __table_args__ = (Index("ix_tracking_location_interval_asset_started", "asset_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("tracking_asset.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_zone.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")


class ParRule(Base):
    __tablename__ = "tracking_par_rule"
    __table_args__ = (UniqueConstraint("unit", "asset_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(64))
    asset_type: Mapped[str] = mapped_column(String(64))
    minimum: Mapped[int] = mapped_column(Integer)


class TrackingAlert(Base):
    """An open alert has `cleared_at` None; at most one open alert per (kind, subject)."""

    __tablename__ = "tracking_alert"
    __table_args__ = (Index("ix_tracking_alert_kind_subject", "kind", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(140))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
