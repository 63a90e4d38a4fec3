"""Replenishment: positions × policies → rounded needs → draft lines merged per (supplier, ship-to site, currency).

Runs are serialised by a row lock (PostgreSQL) / the write lock (SQLite) taken first, so two runs at once
read each other's lines and never order twice; a unique draft slot per key and a unique (po, item)
line are the final guards. POs past draft are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict
from core.models import Item
from procurement import policy
from procurement.models import (
    DemandStat,
    DraftSlot,
    ProcurementLock,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPolicy,
    StockView,
    Supplier,
)
from procurement.orders import DRAFT, OPEN_STATUSES, new_po, submit
from procurement.stock import roll_windows
from procurement.suppliers import Offer, candidates, choose, load_offers

SYSTEM_ACTOR = "system:replenish"


@dataclass(frozen=True, slots=True)
class Proposal:
    item_id: int
    site_id: int
    offer: Offer
    quantity: int
    reason: str
    cost_center_id: int | None


@dataclass(frozen=True, slots=True)
class ReplenishReport:
    examined: int
    proposals: int
    lines_created: int
    lines_merged: int
    pos_created: int
    problems: tuple[str, ...]


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
    take_lock(session)
    now = clock.now()
    roll_windows(session, now.date())
    cutoff = now - timedelta(seconds=settle_seconds)
    rows = _load_pairs(session, only_dirty, cutoff)
    items = {r.item_id for r in rows}
    open_qty = _open_quantities(session, items if only_dirty else None)
    offers = load_offers(session, items if only_dirty else None)
    proposals, problems = _propose(rows, open_qty, offers, now)
    created, merged, pos_created = _write(session, proposals, clock, actor)
    _clear_dirty(session, only_dirty, cutoff, [r.stock_id for r in rows if r.stock_id is not None])
    return ReplenishReport(len(rows), len(proposals), created, merged, pos_created, tuple(problems[:50]))


def _load_pairs(session: Session, only_dirty: bool, cutoff: datetime) -> list[Any]:
    p, sv, ds = ReorderPolicy, StockView, DemandStat
    query = (
        select(
            p.item_id, p.site_id, p.kind, p.min_qty, p.max_qty, p.reorder_level, p.reorder_qty, p.service_level,
            p.cover_days, p.order_cost, p.holding_rate, p.cost_center_id, sv.id.label("stock_id"), sv.on_hand,
            ds.total, ds.total_sq, ds.window_days,
        )
        .select_from(p)
        .outerjoin(ds, and_(ds.item_id == p.item_id, ds.site_id == p.site_id))
        .where(p.active.is_(True))
    )  # fmt: skip
    # Pairs procurement has never heard a stock level for are left alone: ordering on a guess is worse.
    query = query.join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
    if only_dirty:
        query = query.where(sv.dirty.is_(True), sv.dirty_at <= cutoff)
    return list(session.execute(query).all())


def _open_quantities(session: Session, items: set[int] | None) -> dict[tuple[int, int], int]:
    line, po = PurchaseOrderLine, PurchaseOrder
    query = (
        select(line.item_id, po.site_id, func.sum(line.quantity - line.received_qty - line.closed_qty))
        .join(po, po.id == line.po_id)
        .where(po.status.in_(OPEN_STATUSES))
        .group_by(line.item_id, po.site_id)
    )
    if items is not None:
        if not items:
            return {}
        query = query.where(line.item_id.in_(sorted(items)))
    return {(i, s): int(q or 0) for i, s, q in session.execute(query)}


def _propose(
    rows: list[Any], open_qty: dict[tuple[int, int], int], offers: dict[int, list[Offer]], now: datetime
) -> tuple[list[Proposal], list[str]]:
    proposals: list[Proposal] = []
    problems: list[str] = []
    today = now.date()
    for r in rows:
        on_hand = r.on_hand or 0
        position = on_hand + open_qty.get((r.item_id, r.site_id), 0)
        item_offers = offers.get(r.item_id, [])
        top = candidates(item_offers, today)
        need = policy.decide(_policy_input(r, position, top[0] if top else None))
        if need.quantity <= 0:
            continue
        offer = choose(item_offers, need.quantity, today)
        if offer is None:
            problems.append(f"item {r.item_id} at site {r.site_id}: {need.reason}, but no valid supplier item")
            continue
        rounded = policy.round_order(need.quantity, offer.pack_qty, offer.order_multiple, offer.moq)
        reason = policy.line_reason(need, rounded)
        proposals.append(Proposal(r.item_id, r.site_id, offer, rounded.quantity, reason, r.cost_center_id))
    return proposals, problems


def _policy_input(r: Any, position: int, offer: Offer | None) -> policy.PolicyInput:
    if r.kind != policy.AUTO_ROP:
        return policy.PolicyInput(
            r.kind, position, r.min_qty, r.max_qty, r.reorder_level, r.reorder_qty
        )  # fmt: skip
    mean, sigma = policy.demand_stats(r.total or 0, r.total_sq or 0, r.window_days or 0)
    lead = offer.lead_time_days if offer else 0
    eoq = None
    if offer and r.order_cost is not None and r.holding_rate and mean > 0:
        holding = float(r.holding_rate) * float(offer.price_for(1))
        if holding > 0:
            eoq = float(policy.eoq(mean * 365, float(r.order_cost), holding))
    return policy.PolicyInput(
        r.kind, position, mean_daily=mean, sigma_daily=sigma, lead_time_days=lead,
        service_level=float(r.service_level), cover_days=r.cover_days, eoq=eoq,
    )  # fmt: skip


def _write(session: Session, proposals: list[Proposal], clock: Clock, actor: str) -> tuple[int, int, int]:
    by_key: dict[tuple[int, int, str], list[Proposal]] = defaultdict(list)
    for prop in proposals:
        by_key[(prop.offer.supplier_id, prop.site_id, prop.offer.currency)].append(prop)
    created = merged = pos_created = 0
    stamp = clock.now().strftime("%Y-%m-%d %H:%M")
    for key, props in sorted(by_key.items()):
        po_id, is_new = _draft_for(session, key, props[0].cost_center_id, clock, actor)
        pos_created += is_new
        existing = {
            row.item_id: row
            for row in session.execute(
                select(PurchaseOrderLine.id, PurchaseOrderLine.item_id, PurchaseOrderLine.quantity,
                       PurchaseOrderLine.reason, PurchaseOrderLine.line_number).where(PurchaseOrderLine.po_id == po_id)
            )
        }  # fmt: skip
        next_no = max((row.line_number for row in existing.values()), default=0) + 1
        inserts, updates = [], []
        for prop in props:
            old = existing.get(prop.item_id)
            if old is None:
                inserts.append(
                    {"po_id": po_id, "line_number": next_no, "item_id": prop.item_id,
                     "supplier_item_id": prop.offer.supplier_item_id, "quantity": prop.quantity,
                     "unit_price": prop.offer.price_for(prop.quantity), "received_qty": 0, "closed_qty": 0,
                     "reason": prop.reason}
                )  # fmt: skip
                next_no += 1
            else:
                qty = old.quantity + prop.quantity
                updates.append(
                    {"id": old.id, "quantity": qty, "unit_price": prop.offer.price_for(qty),
                     "supplier_item_id": prop.offer.supplier_item_id,
                     "reason": f"{old.reason}; {stamp}: +{prop.quantity}: {prop.reason} (now {qty})"}
                )  # fmt: skip
        if inserts:
            session.execute(insert(PurchaseOrderLine), inserts)
        if updates:
            session.execute(update(PurchaseOrderLine), updates)
        created, merged = created + len(inserts), merged + len(updates)
        session.execute(update(PurchaseOrder).where(PurchaseOrder.id == po_id).values(updated_at=clock.now()))
        audit.record(
            session, actor, "po.replenish", "purchase_order", _number(session, po_id),
            after={"lines_added": len(inserts), "lines_merged": len(updates)}, clock=clock,
        )  # fmt: skip
    return created, merged, pos_created


def _number(session: Session, po_id: int) -> str:
    return str(session.scalar(select(PurchaseOrder.po_number).where(PurchaseOrder.id == po_id)))


def _draft_for(
    session: Session, key: tuple[int, int, str], cost_center_id: int | None, clock: Clock, actor: str
) -> tuple[int, bool]:
    supplier_id, site_id, currency = key
    slot = select(DraftSlot.po_id).where(
        DraftSlot.supplier_id == supplier_id, DraftSlot.site_id == site_id, DraftSlot.currency == currency
    )
    found = session.scalar(slot)
    if found is not None:
        return found, False
    supplier = session.get(Supplier, supplier_id)
    assert supplier is not None
    try:
        with session.begin_nested():
            po = new_po(session, supplier, site_id, actor, clock, origin="system", cost_center_id=cost_center_id)
            session.add(DraftSlot(supplier_id=supplier_id, site_id=site_id, currency=currency, po_id=po.id))
            session.flush()
            return po.id, True
    except IntegrityError:
        again = session.scalar(slot)
        if again is None:
            raise
        return again, False


def _clear_dirty(session: Session, only_dirty: bool, cutoff: datetime, stock_ids: list[int]) -> None:
    query = update(StockView).where(StockView.dirty.is_(True), StockView.dirty_at <= cutoff)
    if only_dirty:
        for start in range(0, len(stock_ids), 5000):
            session.execute(query.where(StockView.id.in_(stock_ids[start : start + 5000])).values(dirty=False))
        return
    session.execute(query.values(dirty=False))


def submit_system_drafts(session: Session, clock: Clock, hold_seconds: float = 0.0) -> list[tuple[str, str]]:
    """Submit system drafts older than the hold (each in a savepoint); returns (po_number, status or problem)."""
    cutoff = clock.now() - timedelta(seconds=hold_seconds)
    numbers = session.scalars(
        select(PurchaseOrder.po_number)
        .where(PurchaseOrder.status == DRAFT, PurchaseOrder.origin == "system", PurchaseOrder.created_at <= cutoff)
        .order_by(PurchaseOrder.id)
    ).all()
    results = []
    for number in numbers:
        try:
            with session.begin_nested():
                results.append((number, submit(session, number, SYSTEM_ACTOR, clock)))
        except Conflict as exc:
            results.append((number, f"not submitted: {exc.message}"))
    return results


def item_label(session: Session, item_id: int) -> str:
    return str(session.scalar(select(Item.sku).where(Item.id == item_id)))
