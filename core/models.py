"""Master records every domain shares: sites, items, cost centers, users and API tokens."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Money, UTCDateTime


class Site(Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ship_to_address: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    country: Mapped[str] = mapped_column(String(2), default="", server_default="")  # ISO 3166-1 alpha-2


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_of_measure: Mapped[str] = mapped_column(String(16), default="EA")
    category: Mapped[str] = mapped_column(String(64), default="general")
    unit_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    gtin: Mapped[str | None] = mapped_column(String(14), nullable=True, index=True)  # of one unit, 14 digits
    # equipment bought as this item: tracking's asset type code (PAR shortfalls order it), "" for consumables
    asset_type: Mapped[str] = mapped_column(String(64), default="", server_default="")


class CostCenter(Base):
    __tablename__ = "cost_center"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # NFKC + casefold of username (core.passwords.fold): "ADMIN" and "ａｄｍｉｎ" are the same login as "admin"
    username_key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200), default="")  # comma-separated Role values
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")  # "" = browser's choice

    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class UserSession(Base):
    """A signed-in browser. The cookie holds a random id whose SHA-256 is stored here; ending the row ends every
    copy of the cookie (logout, password change, deactivation, expiry)."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_reason: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class AuthThrottle(Base):
    """Failed sign-in tries per key (an account, an address, a kiosk worker ID), shared by every server process."""

    __tablename__ = "auth_throttle"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # core.throttle.Scope
    key: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the growing delay
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the lockout


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))  # comma-separated TokenScope values
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)
