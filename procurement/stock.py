"""Procurement's view of stock: consumes ItemDispensed / StockLevelChanged into on-hand and demand aggregates."""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Table, and_, func, insert, select, update
from sqlalchemy.orm import Session

from core.events import Event, ItemDispensed, StockLevelChanged
from core.models import Item, Site
from procurement.models import DemandDay, DemandStat, ReorderPolicy, StockView

DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True, slots=True)
class Dispense:
    item_id: int
    site_id: int
    day: date
    quantity: int


class _Keys:
    """Per-session cache of sku → item id and site code → site id (master data rarely changes)."""

    @staticmethod
    def item_id(session: Session, sku: str) -> int | None:
        cache: dict[str, int] = session.info.setdefault("proc_sku_cache", {})
        if sku not in cache:
            found = session.scalar(select(Item.id).where(Item.sku == sku))
            if found is None:
                return None
            cache[sku] = found
        return cache[sku]

    @staticmethod
    def site_id(session: Session, code: str) -> int | None:
        cache: dict[str, int] = session.info.setdefault("proc_site_cache", {})
        if code not in cache:
            found = session.scalar(select(Site.id).where(Site.code == code))
            if found is None:
                return None
            cache[code] = found
        return cache[code]


def handle_event(session: Session, evt: Event) -> None:
    """Outbox handler (never commits). Events for unknown SKUs or sites are ignored: nothing to order.

    One flush per event at the end (not one before every lookup); nothing is looked up twice within it.
    """
    if not isinstance(evt, (ItemDispensed, StockLevelChanged)):
        return
    item_id, site_id = _Keys.item_id(session, evt.sku), _Keys.site_id(session, evt.site_code)
    if item_id is None or site_id is None:
        return
    with session.no_autoflush:
        if isinstance(evt, ItemDispensed):
            record_dispenses(session, [Dispense(item_id, site_id, evt.occurred_at.date(), evt.quantity)])
            mark_dirty(session, item_id, site_id, evt.occurred_at)
        else:
            set_on_hand(session, item_id, site_id, evt.on_hand, evt.occurred_at)
            if evt.max_level > 0:
                adopt_levels(session, item_id, site_id, evt.min_level, evt.max_level)
    session.flush()


def adopt_levels(session: Session, item_id: int, site_id: int, min_level: int, max_level: int) -> None:
    """A pair without a reorder policy takes the machine's min/max as a min/max policy (editable later)."""
    exists = session.scalar(
        select(ReorderPolicy.id).where(ReorderPolicy.item_id == item_id, ReorderPolicy.site_id == site_id)
    )
    if exists is None and 0 <= min_level <= max_level:
        session.add(ReorderPolicy(item_id=item_id, site_id=site_id, kind="min_max", min_qty=min_level,
                                  max_qty=max_level))  # fmt: skip


def _stock_row(session: Session, item_id: int, site_id: int) -> StockView:
    row = session.scalar(select(StockView).where(StockView.item_id == item_id, StockView.site_id == site_id))
    if row is None:
        row = StockView(item_id=item_id, site_id=site_id, on_hand=0, dirty=False)
        session.add(row)
    return row


def set_on_hand(session: Session, item_id: int, site_id: int, on_hand: int, at: datetime) -> None:
    """Absolute level from vending; an older report than the one we hold is ignored (out-of-order delivery)."""
    row = _stock_row(session, item_id, site_id)
    if row.level_at is not None and at < row.level_at:
        return
    row.on_hand, row.level_at = on_hand, at
    row.dirty, row.dirty_at = True, at


def add_on_hand(session: Session, item_id: int, site_id: int, quantity: int, at: datetime) -> None:
    row = _stock_row(session, item_id, site_id)
    row.on_hand = (row.on_hand or 0) + quantity
    row.dirty, row.dirty_at = True, at


def mark_dirty(session: Session, item_id: int, site_id: int, at: datetime) -> None:
    row = _stock_row(session, item_id, site_id)
    row.dirty, row.dirty_at = True, at


def record_dispenses(session: Session, dispenses: Iterable[Dispense]) -> None:
    """Add dispensed quantities to the day totals and the rolling Σq, Σq² (Σq² moves by (old+q)² − old²).

    The window covers [window_end − window_days + 1, window_end]; a dispense on a later day rolls it first.
    """
    for d in dispenses:
        day_row = session.get(DemandDay, (d.item_id, d.site_id, d.day))
        old = 0 if day_row is None else day_row.quantity
        if day_row is None:
            session.add(DemandDay(item_id=d.item_id, site_id=d.site_id, day=d.day, quantity=d.quantity))
        else:
            day_row.quantity = old + d.quantity
        stat = session.get(DemandStat, (d.item_id, d.site_id))
        if stat is None:
            stat = DemandStat(
                item_id=d.item_id, site_id=d.site_id, window_days=DEFAULT_WINDOW_DAYS,
                window_start=d.day - timedelta(days=DEFAULT_WINDOW_DAYS - 1), window_end=d.day, total=0, total_sq=0,
            )  # fmt: skip
            session.add(stat)
        elif d.day > stat.window_end:
            session.flush()
            roll_windows(session, d.day, pair=(d.item_id, d.site_id))
            session.refresh(stat)
        if stat.window_start <= d.day <= stat.window_end:
            new = old + d.quantity
            stat.total += d.quantity
            stat.total_sq += new * new - old * old
        if day_row is None or stat in session.new:
            session.flush()  # new rows must be found by the next dispense of the same batch


def roll_windows(session: Session, today: date, pair: tuple[int, int] | None = None) -> int:
    """Move windows that end before `today` so they end today, subtracting the day totals that fell out.

    One UPDATE per look-back length; an index on window_end makes it free when everything is current.
    Returns how many windows moved.
    """
    dd = typing.cast(Table, DemandDay.__table__).alias("dd")
    st = typing.cast(Table, DemandStat.__table__)
    moved = 0
    due = select(DemandStat.window_days).where(DemandStat.window_end < today).distinct()
    if pair is not None:
        due = due.where(DemandStat.item_id == pair[0], DemandStat.site_id == pair[1])
    for days in session.scalars(due).all():
        new_start = today - timedelta(days=days - 1)
        gone = and_(
            dd.c.item_id == st.c.item_id, dd.c.site_id == st.c.site_id, dd.c.day >= st.c.window_start,
            dd.c.day < new_start,
        )  # fmt: skip
        q = select(func.coalesce(func.sum(dd.c.quantity), 0)).where(gone).scalar_subquery()
        q2 = select(func.coalesce(func.sum(dd.c.quantity * dd.c.quantity), 0)).where(gone).scalar_subquery()
        stmt = (
            update(st)
            .where(st.c.window_days == days, st.c.window_end < today)
            .values(total=st.c.total - q, total_sq=st.c.total_sq - q2, window_start=new_start, window_end=today)
        )
        if pair is not None:
            stmt = stmt.where(st.c.item_id == pair[0], st.c.site_id == pair[1])
        moved += int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
    return moved


def rebuild_stat(session: Session, item_id: int, site_id: int, window_days: int, today: date) -> None:
    """Recompute one pair's rolling sums from the day totals (after its policy's look-back changed)."""
    start = today - timedelta(days=window_days - 1)
    q, q2 = session.execute(
        select(
            func.coalesce(func.sum(DemandDay.quantity), 0),
            func.coalesce(func.sum(DemandDay.quantity * DemandDay.quantity), 0),
        ).where(DemandDay.item_id == item_id, DemandDay.site_id == site_id, DemandDay.day >= start)
    ).one()
    stat = session.get(DemandStat, (item_id, site_id))
    if stat is None:
        stat = DemandStat(item_id=item_id, site_id=site_id)
        session.add(stat)
    stat.window_days, stat.window_start, stat.window_end = window_days, start, today
    stat.total, stat.total_sq = int(q), int(q2)


def backfill_demand(session: Session, dispenses: Iterable[Dispense], today: date, window_days: int) -> int:
    """Load dispense history into empty demand tables in bulk (same totals the per-event path would keep).

    For imports of history and for the benchmark; afterwards the consumer keeps both tables incrementally.
    Returns the number of day rows written.
    """

    days: dict[tuple[int, int, date], int] = defaultdict(int)
    for d in dispenses:
        days[(d.item_id, d.site_id, d.day)] += d.quantity
    start = today - timedelta(days=window_days - 1)
    stats: dict[tuple[int, int], list[int]] = {}
    for (item_id, site_id, day), qty in days.items():
        acc = stats.setdefault((item_id, site_id), [0, 0])
        if day >= start:
            acc[0] += qty
            acc[1] += qty * qty
    rows = [{"item_id": i, "site_id": s, "day": d, "quantity": q} for (i, s, d), q in days.items()]
    for chunk in range(0, len(rows), 50_000):
        session.execute(insert(DemandDay), rows[chunk : chunk + 50_000])
    session.execute(
        insert(DemandStat),
        [
            {
                "item_id": i,
                "site_id": s,
                "window_days": window_days,
                "window_start": start,
                "window_end": today,
                "total": t,
                "total_sq": t2,
            }
            for (i, s), (t, t2) in stats.items()
        ],
    )
    return len(rows)
