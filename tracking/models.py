"""Tracking tables: zones on a floor plan, gateways, tags, assets, location intervals, PAR rules, alerts, walks.

Raw adverts are never stored one row each: only zone changes (intervals) and batched last-seen updates; the one
exception is the tag carried on an open guided calibration walk (`WalkSighting`), which the fit needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from tracking.states import (
    ALERT_STATUS,
    ASSET_STATUS,
    GATEWAY_STATUS,
    MARK_OUTCOME,
    WALK_STATUS,
    AlertKind,
    AlertStatus,
    AssetStatus,
    GatewayStatus,
    MarkOutcome,
    WalkStatus,
)

ASSET_STATUSES = tuple(s.value for s in AssetStatus)
ALERT_KINDS = tuple(k.value for k in AlertKind)


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
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)  # alert routing per site
    # FOD control ("tools that go in must come out"): a tool in custody may stay here this many minutes
    fod_limit_min: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Gateway(Base):
    __tablename__ = "tracking_gateway"
    __table_args__ = (GATEWAY_STATUS.check_constraint("status", "gateway_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("tracking_zone.id"))
    x: Mapped[float] = mapped_column(Float, default=0.0)
    y: Mapped[float] = mapped_column(Float, default=0.0)
    offset_db: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(8), default=GatewayStatus.UP.value)  # GatewayStatus
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Tag(Base):
    __tablename__ = "tracking_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_key: Mapped[str] = mapped_column(String(100), unique=True)
    battery_mv: Mapped[int | None] = mapped_column(Integer, nullable=True)
    temperature_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AssetType(Base):
    """The label people read for an asset type code ("infusion_pump" -> "Infusion pump")."""

    __tablename__ = "tracking_asset_type"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    plural: Mapped[str] = mapped_column(String(100), default="")


class Asset(Base):
    __tablename__ = "tracking_asset"
    __table_args__ = (ASSET_STATUS.check_constraint("status", "asset_status_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_tag: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(64), index=True)
    serial: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(64), default="")  # owning unit
    status: Mapped[str] = mapped_column(String(16), default=AssetStatus.CLEAN.value)
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


class ParShortfall(Base):
    """An asset type short across the site after every rebalancing move, from when until when, and whether
    purchasing has been asked (once per episode)."""

    __tablename__ = "tracking_par_shortfall"
    __table_args__ = (Index("ix_tracking_par_shortfall_type_cleared", "asset_type", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_type: Mapped[str] = mapped_column(String(64))
    first_short_at: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[int] = mapped_column(Integer)  # the largest shortfall seen in this episode
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TrackingAlert(Base):
    """An alert as a work item. Live (not resolved) alerts have `cleared_at` None; at most one per (kind, subject).

    `cleared_at` is when it was resolved, by a person (`resolved_by` their name, `resolution` their note) or by
    the pipeline when the condition cleared (`resolved_by` "system", `resolution` the reason).
    """

    __tablename__ = "tracking_alert"
    __table_args__ = (
        Index("ix_tracking_alert_kind_subject", "kind", "subject"),
        Index("ix_tracking_alert_cleared_raised", "cleared_at", "raised_at"),
        ALERT_STATUS.check_constraint("status", "alert_status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(140))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN.value, server_default="open")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    acknowledged_by: Mapped[str] = mapped_column(String(140), default="", server_default="")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(140), default="", server_default="")
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")


class AlertRoute(Base):
    """Which roles see (and work) alerts of one kind at one site; no rows for a site = the built-in defaults."""

    __tablename__ = "tracking_alert_route"
    __table_args__ = (UniqueConstraint("site_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[str] = mapped_column(String(20))
    roles: Mapped[str] = mapped_column(String(200), default="")  # comma-separated Role values


class TrendSample(Base):
    """A periodic count for the trend charts: per (unit, asset type) the available count against PAR, and per
    asset type how many assets are in each service status."""

    __tablename__ = "tracking_trend_sample"
    __table_args__ = (Index("ix_tracking_trend_sample_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    series: Mapped[str] = mapped_column(String(16))  # "par" or "status"
    unit: Mapped[str] = mapped_column(String(64), default="")  # par: the unit
    asset_type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(16), default="")  # status: the service status
    value: Mapped[int] = mapped_column(Integer)
    target: Mapped[int | None] = mapped_column(Integer, nullable=True)  # par: the PAR level then


class ToolCustody(Base):
    """A serialised tool out of a machine with a worker: who holds it, where it was taken, where it came back.

    Opened by vending's ToolCheckedOut and closed by ToolReturned; `asset_id` links it to the tool's tag when
    an asset carries the tool's serial as its asset tag (untagged tools are followed by holder only).
    """

    __tablename__ = "tracking_tool_custody"
    __table_args__ = (Index("ix_tracking_tool_custody_open", "serial", "returned_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(64), default="")
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_asset.id"), nullable=True, index=True)
    site_code: Mapped[str] = mapped_column(String(32), default="")
    holder: Mapped[str] = mapped_column(String(64))  # worker code
    holder_name: Mapped[str] = mapped_column(String(200), default="")
    machine: Mapped[str] = mapped_column(String(64), default="")
    charge_code: Mapped[str] = mapped_column(String(64), default="")
    out_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    out_zone_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_zone.id"), nullable=True)  # the locker's room
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    return_zone_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_zone.id"), nullable=True)
    return_condition: Mapped[str] = mapped_column(String(16), default="")
    return_note: Mapped[str] = mapped_column(Text, default="")  # why the return was flagged, "" when it was not


class GatewayInbox(Base):
    """A gateway's HTTP upload, parsed and checked by the web process that took it, waiting for the location engine.

    Web processes do not run the engine (under `vendtrack serve` it lives in the workers process), so an accepted
    batch is one row here until the engine's next flush takes it (tracking.inbox); rows are deleted as taken.
    """

    __tablename__ = "tracking_gateway_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat: Mapped[str] = mapped_column(String(8), default="")  # "online"/"offline" from the gateway, "" none
    count: Mapped[int] = mapped_column(Integer, default=0)
    observations: Mapped[str] = mapped_column(Text, default="[]")  # JSON rows in tracking.observation's field order


class Walk(Base):
    """A guided calibration walk: one person carries `tag_key` and taps each room as they enter it.

    `result_json` holds what finishing fitted (offsets, radii, the replayed accuracy before and after), so
    applying writes exactly what the person was shown, from whichever web process takes the request.
    """

    __tablename__ = "tracking_walk"
    __table_args__ = (
        WALK_STATUS.check_constraint("status", "walk_status_valid"),
        Index("ix_tracking_walk_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=WalkStatus.OPEN.value)
    started_by: Mapped[str] = mapped_column(String(140))  # the audit actor ("user:ana"); only they may mark it
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # applied or discarded
    result_json: Mapped[str] = mapped_column(Text, default="")


class WalkMark(Base):
    """ "I am in room X" at `marked_at`; the time-to-room-change sample: the engine placed the tag there after
    `delay_s` seconds (`reached`), or not within the deadline (`never`)."""

    __tablename__ = "tracking_walk_mark"
    __table_args__ = (
        MARK_OUTCOME.check_constraint("outcome", "walk_mark_outcome_valid"),
        Index("ix_tracking_walk_mark_walk_at", "walk_id", "marked_at"),
        Index("ix_tracking_walk_mark_outcome_at", "outcome", "marked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    walk_id: Mapped[int] = mapped_column(ForeignKey("tracking_walk.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("tracking_zone.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16), default=MarkOutcome.PENDING.value)
    delay_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WalkSighting(Base):
    """One advert of an open walk's tag as one gateway heard it (written by the location engine's flush)."""

    __tablename__ = "tracking_walk_sighting"
    __table_args__ = (Index("ix_tracking_walk_sighting_walk_at", "walk_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    walk_id: Mapped[int] = mapped_column(ForeignKey("tracking_walk.id"))
    gateway_id: Mapped[str] = mapped_column(String(64))
    rssi: Mapped[int] = mapped_column(Integer)
    ref_power: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
