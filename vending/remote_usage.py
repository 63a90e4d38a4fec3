"""Limits across edges: a worker's takes at other edges come down with the configuration; overruns are reported.

Central side: `build` lists, for an edge's site, the takes its workers made at *other* sites in the last
`HORIZON` (from the facts the edges forwarded, core.fleet_models.FleetFact); `flag_overrun` runs when a
take arrives and records a `FleetOverrun` when the worker's usage summed over every site exceeds a rule
(an edge offline decided alone; this is the report, not a silent loss). Edge side: `apply` replaces the
edge's copy (vending_remote_usage), and `vending.rules.check` counts it beside the edge's own ledger
once an enrolled edge sets `vending.rules.remote_usage_source` to `load`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from core.clock import utc
from core.events import ItemDispensed
from core.fleet_feed import SECTIONS, Section
from core.fleet_models import FleetFact, FleetOverrun
from core.models import Item, Site
from core.prepared import FastWork, Prepared
from vending.models import GroupMember, RemoteUsage, Worker
from vending.rule_cache import CACHE, RuleSpec
from vending.rules import Usage, window_bounds

HORIZON = timedelta(days=8)  # longer than the longest fixed window (a week)
DISPENSED = ItemDispensed.event_type

_R = RemoteUsage.__table__.c
_LOAD = Prepared(
    select(_R.at, _R.item_id, _R.category, _R.quantity, _R.worker_id).where(
        _R.worker_id == bindparam("worker"), _R.at >= bindparam("since")
    )
)


def load(work: FastWork, worker_id: int, since: datetime) -> list[Usage]:
    """The worker's takes at other edges since `since`, as the central server last reported them."""
    return [Usage(utc(r[0]), r[1], r[2], r[3], r[4]) for r in work.all(_LOAD, {"worker": worker_id, "since": since})]


def _site_code(session: Session, site_id: int) -> str:
    return session.scalar(select(Site.code).where(Site.id == site_id)) or ""


def build(session: Session, site_id: int, now: datetime) -> list[dict[str, Any]]:
    code = _site_code(session, site_id)
    rows = session.execute(
        select(
            FleetFact.event_key,
            FleetFact.occurred_at,
            Worker.id,
            Item.id,
            Item.category,
            FleetFact.quantity,
            FleetFact.site_code,
        )
        .join(Worker, Worker.worker_code == FleetFact.worker)
        .join(Item, Item.sku == FleetFact.sku)
        .where(FleetFact.event_type == DISPENSED, FleetFact.site_code != code, FleetFact.occurred_at >= now - HORIZON)
        .where((Worker.site_id.is_(None)) | (Worker.site_id == site_id))
        .order_by(FleetFact.id)
    )
    return [
        {
            "event_key": r[0],
            "at": utc(r[1]).isoformat(),
            "worker_id": r[2],
            "item_id": r[3],
            "category": r[4],
            "quantity": r[5],
            "site_code": r[6],
        }
        for r in rows
    ]


def marker(session: Session, site_id: int) -> int:
    code = _site_code(session, site_id)
    found = session.scalar(
        select(func.max(FleetFact.id)).where(FleetFact.event_type == DISPENSED, FleetFact.site_code != code)
    )
    return int(found or 0)


def apply(session: Session, rows: list[dict[str, Any]]) -> None:
    conn = session.connection()
    conn.execute(delete(RemoteUsage))
    if rows:
        conn.execute(
            insert(RemoteUsage),
            [
                {
                    "event_key": str(r["event_key"])[:64],
                    "at": utc(datetime.fromisoformat(r["at"])),
                    "worker_id": int(r["worker_id"]),
                    "item_id": int(r["item_id"]),
                    "category": str(r["category"])[:64],
                    "quantity": int(r["quantity"]),
                    "site_code": str(r["site_code"])[:32],
                }
                for r in rows
            ],
        )


SECTIONS["usage"] = Section(build=build, apply=apply, marker=marker)


def flag_overrun(session: Session, evt: ItemDispensed) -> FleetOverrun | None:
    """Central: after the fact `evt` arrived, report each limit the worker's takes over all sites exceed.

    Edges forward in any order after a partition, so the whole window is counted as known now (not only the
    takes before `evt`): whichever edge's facts arrive last complete the picture. One report per worker, rule
    and window; a later fact in the same window updates its figures instead of adding a second report.
    """
    worker = session.execute(select(Worker.id, Worker.site_id).where(Worker.worker_code == evt.worker)).first()
    item = session.execute(select(Item.id, Item.category).where(Item.sku == evt.sku)).first()
    site = session.execute(select(Site.id, Site.timezone).where(Site.code == evt.site_code)).first()
    if worker is None or item is None or site is None or evt.quantity <= 0:
        return None
    groups = set(session.scalars(select(GroupMember.group_id).where(GroupMember.worker_id == worker[0])))
    specs = CACHE.applicable(
        session, site_id=site[0], worker_id=worker[0], groups=groups, item_id=item[0], category=item[1]
    )
    for spec in specs:
        if spec.pooled_group_id is not None:
            continue  # pooled limits are the group's at one site
        start, end = _report_span(spec, evt.occurred_at, ZoneInfo(site[1] or "UTC"))
        per_site = _worst_window(session, evt.worker, spec, start, end)
        used = sum(per_site.values())
        if used <= spec.quantity or len([c for c, q in per_site.items() if q > 0]) < 2:
            continue
        sites = ", ".join(f"{c}: {q}" for c, q in sorted(per_site.items()))
        overrun = session.scalar(
            select(FleetOverrun).where(
                FleetOverrun.worker == evt.worker,
                FleetOverrun.rule_name == spec.name,
                FleetOverrun.occurred_at >= start,
                FleetOverrun.occurred_at < end,
            )
        )
        if overrun is None:
            overrun = FleetOverrun(
                event_key=evt.event_id, worker=evt.worker, rule_name=spec.name, limit_quantity=spec.quantity,
                used=used, sites=sites, occurred_at=evt.occurred_at, acknowledged=False,
            )  # fmt: skip
            session.add(overrun)
        elif used > overrun.used:
            overrun.used, overrun.sites = used, sites
        return overrun
    return None


def _report_span(spec: RuleSpec, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The span whose takes can share a window with a take at `at`: the fixed window, or ±hours when rolling."""
    if spec.window == "rolling":
        hours = timedelta(hours=spec.rolling_hours)
        return at - hours, at + hours
    return window_bounds(spec, at, tz)


def _worst_window(session: Session, worker: str, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, int]:
    """Per site, the worker's takes under `spec` in the fullest window inside [start, end), as forwarded so far."""
    query = (
        select(FleetFact.occurred_at, FleetFact.site_code, FleetFact.quantity)
        .join(Item, Item.sku == FleetFact.sku)
        .where(FleetFact.event_type == DISPENSED, FleetFact.worker == worker)
        .where(FleetFact.occurred_at >= start, FleetFact.occurred_at < end)
        .order_by(FleetFact.occurred_at)
    )
    if spec.item_id is not None:
        query = query.where(Item.id == spec.item_id)
    if spec.category is not None:
        query = query.where(Item.category == spec.category)
    takes = [(utc(at), code, int(quantity)) for at, code, quantity in session.execute(query)]
    if spec.window != "rolling":
        return _per_site(takes)
    hours = timedelta(hours=spec.rolling_hours)
    windows = [[t for t in takes if last - hours < t[0] <= last] for last, _, _ in takes]
    return max((_per_site(w) for w in windows), key=_across_sites_then_total, default={})


def _across_sites_then_total(per_site: dict[str, int]) -> tuple[bool, int]:
    return sum(1 for q in per_site.values() if q > 0) > 1, sum(per_site.values())


def _per_site(takes: list[tuple[datetime, str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for _, code, quantity in takes:
        totals[code] = totals.get(code, 0) + quantity
    return totals
