"""Replenishment: positions × policies → rounded needs → draft lines merged per (supplier, ship-to site, currency).

Runs are serialised by a row lock (PostgreSQL) / the write lock (SQLite) taken first, so two runs at once
read each other's lines and never order twice; a unique draft slot per key and a unique (po, item)
line are the final guards. POs past draft are never touched.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import Clock
from core.notes import Note
from procurement import policy
from procurement.models import ProcurementLock, PurchaseOrder, PurchaseOrderLine, ReorderPolicy, StockView
from procurement.orders import OPEN_STATUSES, SYSTEM_ACTOR
from procurement.replenish_pairs import IDS_PER_STATEMENT, PairRow, load_pairs
from procurement.replenish_write import DraftChange, Proposal, write_proposals
from procurement.stock import roll_windows
from procurement.suppliers import Offer, candidates, cheapest, load_offers
from procurement.workflow import submit_system_drafts


@dataclass(frozen=True, slots=True)
class ReplenishReport:
    examined: int
    proposals: int
    lines_created: int
    lines_merged: int
    pos_created: int
    problems: tuple[str, ...]
    changes: tuple[DraftChange, ...] = ()


def take_lock(session: Session, name: str = "replenish") -> None:
    if session.scalar(select(ProcurementLock.name).where(ProcurementLock.name == name)) is None:
        try:
            with session.begin_nested():
                session.add(ProcurementLock(name=name))
        except IntegrityError:
            pass  # another run created it first; the lock below waits for that run
    session.execute(select(ProcurementLock).where(ProcurementLock.name == name).with_for_update())


def replenish(
    session: Session, clock: Clock, only_dirty: bool = False, settle_seconds: float = 0.0, actor: str = SYSTEM_ACTOR
) -> ReplenishReport:
    """One run. `only_dirty` looks only at pairs whose stock changed and has been quiet for `settle_seconds`."""
    with _collector_paused():
        return _replenish(session, clock, only_dirty, settle_seconds, actor)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one run. A full run makes some 10^5 objects that all stay alive
    until it ends (rows, offers, proposals, notes), so every collection their allocations trigger walks them, and
    the rest of the heap, for nothing: about a tenth of a full run's time at 400k policies. Reference counting frees
    memory as always; the collector's previous state comes back afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _replenish(
    session: Session, clock: Clock, only_dirty: bool, settle_seconds: float, actor: str
) -> ReplenishReport:
    take_lock(session)
    now = clock.now()
    roll_windows(session, now.date())
    cutoff = now - timedelta(seconds=settle_seconds)
    dirty = list(session.scalars(select(StockView.id).where(StockView.dirty.is_(True), StockView.dirty_at <= cutoff)))
    if only_dirty and not dirty:
        return ReplenishReport(0, 0, 0, 0, 0, ())
    rows = load_pairs(session, dirty if only_dirty else None)
    items = {r[0] for r in rows}
    open_qty = _open_quantities(session, items if only_dirty else None)
    offers = load_offers(session, items if only_dirty else None)
    proposals, problems = _propose(rows, open_qty, offers, now)
    changes = write_proposals(session, proposals, clock, actor)
    created, merged, pos_created = (sum(c.lines_added for c in changes), sum(c.lines_merged for c in changes),
                                    sum(1 for c in changes if c.created))  # fmt: skip
    for start in range(0, len(dirty), IDS_PER_STATEMENT):  # only what this run looked at; later changes stay dirty
        batch = dirty[start : start + IDS_PER_STATEMENT]
        session.execute(update(StockView).where(StockView.id.in_(batch)).values(dirty=False))
    examined = len(dirty) if only_dirty else session.scalar(select(func.count()).select_from(ReorderPolicy)) or 0
    return ReplenishReport(examined, len(proposals), created, merged, pos_created, tuple(problems[:50]), changes)



def _open_quantities(session: Session, items: set[int] | None) -> dict[tuple[int, int], int]:
    line, po = PurchaseOrderLine, PurchaseOrder
    remaining = line.quantity - line.received_qty - line.closed_qty
    query = (
        select(line.item_id, po.site_id, func.sum(case((remaining > 0, remaining), else_=0)))
        .join(po, po.id == line.po_id)
        .where(po.status.in_(OPEN_STATUSES))
        .group_by(line.item_id, po.site_id)
    )
    if items is not None:
        if not items:
            return {}
        query = query.where(line.item_id.in_(sorted(items)))
    return {(i, s): int(q or 0) for i, s, q in session.connection().execute(query)}


def _propose(
    rows: list[PairRow], open_qty: dict[tuple[int, int], int], offers: Mapping[int, list[Offer]], now: datetime
) -> tuple[list[Proposal], list[str]]:
    proposals: list[Proposal] = []
    problems: list[str] = []
    today = now.date()
    tops: dict[int, list[Offer]] = {}  # per item: its candidates today (valid, priced, top priority)
    open_of, min_max, level_kind, rop_kind = open_qty.get, policy.MIN_MAX, policy.REORDER_LEVEL, policy.AUTO_ROP
    below = policy.below_reorder_point
    # Min/max and reorder-level needs depend only on a few integers, and so do their rounded quantities and reasons:
    # a full run meets the same ones thousands of times, so each is decided (and its reason built) once per run.
    needs: dict[tuple[Any, ...], policy.Need] = {}
    made: dict[tuple[Any, ...], tuple[int, Note]] = {}
    rounding: dict[tuple[int, int, int, int], policy.Rounded] = {}  # by (need, pack, multiple, MOQ): any kind's
    for r in rows:
        item_id, site_id, kind = r.item_id, r.site_id, r.kind
        position = (r.on_hand or 0) + open_of((item_id, site_id), 0)
        if (kind == min_max and position >= r.min_qty) or (kind == level_kind and position >= r.reorder_level):
            continue  # the common case, decided without building a reason
        best = tops.get(item_id)
        if best is None:
            best = tops[item_id] = candidates(offers.get(item_id, []), today)
        offer_top = best[0] if best else None
        lead = offer_top.lead_time_days if offer_top else 0
        if kind == rop_kind:
            level = r.service_level or 0.0  # never NULL in a reorder point's row
            if not below(position, r.total or 0, r.total_sq or 0, r.window_days or 0, lead, level):
                continue
            key, need = None, _decide_rop(r, position, offer_top)
        else:
            key = (kind, position, r.min_qty, r.max_qty, r.reorder_level, r.reorder_qty)
            found = needs.get(key)
            if found is None:
                found = needs[key] = policy.decide(
                    policy.PolicyInput(kind, position, r.min_qty, r.max_qty, r.reorder_level, r.reorder_qty)
                )
            need = found
        if need.quantity <= 0:
            continue
        offer = cheapest(best, need.quantity)
        if offer is None:
            problems.append(f"item {item_id} at site {site_id}: {need.reason}, but no valid supplier item")
            continue
        steps = (need.quantity, offer.pack_qty, offer.order_multiple, offer.moq)
        line_key = None if key is None else (key, steps)
        line = made.get(line_key) if line_key is not None else None
        if line is None:
            rounded = rounding.get(steps)
            if rounded is None:
                rounded = rounding[steps] = policy.round_order(*steps)
            line = (rounded.quantity, policy.line_reason(need, rounded))
            if line_key is not None:
                made[line_key] = line
        proposals.append(Proposal(item_id, site_id, offer, line[0], line[1], r.cost_center_id))
    return proposals, problems


def _decide_rop(r: PairRow, position: int, offer: Offer | None) -> policy.Need:
    """An automatic reorder point's need, from the pair's rolling demand and the lead time of its item's offer."""
    mean, sigma = policy.demand_stats(r.total or 0, r.total_sq or 0, r.window_days or 0)
    eoq = None
    if offer and r.order_cost is not None and r.holding_rate and mean > 0:
        holding = float(r.holding_rate) * float(offer.price_for(1))
        if holding > 0:
            eoq = float(policy.eoq(mean * 365, float(r.order_cost), holding))
    lead = offer.lead_time_days if offer else 0
    assert r.service_level is not None and r.cover_days is not None  # a reorder point's row has them
    return policy.decide_rop(position, mean, sigma, lead, r.service_level, r.cover_days, eoq)


__all__ = ["SYSTEM_ACTOR", "DraftChange", "ReplenishReport", "replenish", "submit_system_drafts"]
