"""Test-only tables on a metadata of their own, so they never leak into the product schema checks."""

from __future__ import annotations

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class TestBase(DeclarativeBase):
    metadata = MetaData()


class DeliveryEffect(TestBase):
    """One row per effect a consumer produced; no uniqueness, so doubled deliveries show up."""

    __tablename__ = "test_delivery_effect"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(50))
    event_id: Mapped[str] = mapped_column(String(64))
