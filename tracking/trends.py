"""Trend samples for the PAR and utilisation charts: a periodic count written by a worker, read in time buckets.

Every `SAMPLE_EVERY` the worker records, per PAR rule, how many assets were available against the PAR level,
and per asset type how many were clean, in use, dirty or in maintenance. Samples older than `KEEP` are pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, utc
from core.db import unit_of_work
from tracking.labels import TypeLabels
from tracking.models import Asset, ParRule, TrendSample
from tracking.recording import available_count
from tracking.states import AssetStatus

SAMPLE_EVERY = timedelta(seconds=60)
KEEP = timedelta(days=30)
TREND_HOURS = 12
BUCKET = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Trend:
    """One chart's worth: bucket labels and one list of values per series."""

    title: str
    labels: list[str]
    series: dict[str, list[float]]


def take_samples(session: Session, now: datetime) -> bool:
    """Record one sample set unless another process did within `SAMPLE_EVERY`; True when written."""
    newest = session.scalar(select(func.max(TrendSample.at)))
    if newest is not None and now - utc(newest) < SAMPLE_EVERY * 0.8:
        return False
    for rule in session.scalars(select(ParRule)):
        available = available_count(session, rule.unit, rule.asset_type)
        session.add(TrendSample(at=now, series="par", unit=rule.unit, asset_type=rule.asset_type, value=available,
                                target=rule.minimum))  # fmt: skip
    counts = session.execute(select(Asset.asset_type, Asset.status, func.count(Asset.id)).group_by(
        Asset.asset_type, Asset.status))  # fmt: skip
    for asset_type, status, count in counts:
        session.add(TrendSample(at=now, series="status", asset_type=asset_type, key=status, value=count))
    session.execute(delete(TrendSample).where(TrendSample.at < now - KEEP))
    return True


def sampler(session_factory: sessionmaker[Session], clock: Clock) -> Callable[[], bool]:
    """The worker's step: one unit of work per sample set."""

    def step() -> bool:
        with unit_of_work(session_factory) as session:
            return take_samples(session, clock.now())

    return step


def _buckets(now: datetime) -> list[datetime]:
    end = now.replace(minute=(now.minute // 30) * 30, second=0, microsecond=0)
    count = int(timedelta(hours=TREND_HOURS) / BUCKET)
    return [end - BUCKET * i for i in range(count - 1, -1, -1)]


def _bucket_of(moment: datetime, starts: list[datetime]) -> int:
    index = int((utc(moment) - starts[0]) / BUCKET)
    return min(max(index, 0), len(starts) - 1)


def par_trend(session: Session, now: datetime, rules: Sequence[tuple[str, str]]) -> list[Trend]:
    """Per PAR rule (unit, asset type): available per half hour (the bucket's last sample) against PAR, over 12 h."""
    starts = _buckets(now)
    samples = session.scalars(
        select(TrendSample).where(TrendSample.series == "par", TrendSample.at >= starts[0]).order_by(TrendSample.at)
    )
    last: dict[tuple[str, str], dict[int, tuple[int, int]]] = {}
    for s in samples:
        last.setdefault((s.unit, s.asset_type), {})[_bucket_of(s.at, starts)] = (s.value, s.target or 0)
    types = TypeLabels.load(session)
    trends = []
    for unit, asset_type in rules:
        filled = last.get((unit, asset_type), {})
        if not filled:
            continue
        first = min(filled)
        available, par, carried = [], [], filled[first]
        for i in range(first, len(starts)):
            carried = filled.get(i, carried)
            available.append(float(carried[0]))
            par.append(float(carried[1]))
        labels = [f"{utc(t):%H:%M}" for t in starts[first:]]
        title = gettext("%(unit)s · %(types)s available", unit=unit, types=types.plural(asset_type))
        trends.append(Trend(title, labels, {gettext("Available"): available, gettext("PAR level"): par}))
    return trends


def status_shares(session: Session, now: datetime, asset_type: str | None) -> Trend:
    """Share of assets (of one type, or all) in each service status per half hour, in %, over 12 h."""
    starts = _buckets(now)
    query = select(TrendSample).where(TrendSample.series == "status", TrendSample.at >= starts[0])
    if asset_type:
        query = query.where(TrendSample.asset_type == asset_type)
    latest: dict[int, datetime] = {}
    totals: dict[int, dict[str, int]] = {}
    for s in session.scalars(query.order_by(TrendSample.at)):
        bucket = _bucket_of(s.at, starts)
        if latest.get(bucket) != s.at:  # a newer sample set in this bucket replaces the older one
            latest[bucket], totals[bucket] = s.at, {}
        totals[bucket][s.key] = totals[bucket].get(s.key, 0) + s.value
    order = [AssetStatus.IN_USE, AssetStatus.CLEAN, AssetStatus.DIRTY, AssetStatus.MAINTENANCE]
    used = sorted(totals)
    series: dict[str, list[float]] = {gettext(status.label): [] for status in order}
    for bucket in used:
        whole = sum(totals[bucket].values()) or 1
        shares = [round(100 * totals[bucket].get(status.value, 0) / whole) for status in order]
        if sum(shares):  # whole percents, the largest share absorbing rounding, so each column is exactly 100
            shares[shares.index(max(shares))] += 100 - sum(shares)
        for status, share in zip(order, shares, strict=True):
            series[gettext(status.label)].append(float(share))
    if asset_type:
        title = gettext("Share of %(types)s by status", types=TypeLabels.load(session).plural(asset_type).lower())
    else:
        title = gettext("Share of all assets by status")
    return Trend(title, [f"{utc(starts[b]):%H:%M}" for b in used], series)


def current_by_type(session: Session) -> list[tuple[str, dict[AssetStatus, int], int]]:
    """Now, per asset type: (label, count per status, total), by label."""
    types = TypeLabels.load(session)
    found: dict[str, dict[AssetStatus, int]] = {}
    for asset_type, status, count in session.execute(
        select(Asset.asset_type, Asset.status, func.count(Asset.id)).group_by(Asset.asset_type, Asset.status)
    ):
        found.setdefault(asset_type, {})[AssetStatus(status)] = count
    rows = [(types.label(code), counts, sum(counts.values())) for code, counts in found.items()]
    return sorted(rows, key=lambda row: row[0].lower())
