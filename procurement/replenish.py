"""Replenishment: positions × policies → rounded needs → draft lines merged per (supplier, ship-to site, currency).

Runs are serialised by a row lock (PostgreSQL) / the write lock (SQLite) taken first, so two runs at once
read each other's lines and never order twice; a unique draft slot per key and a unique (po, item)
line are the final guards. POs past draft are never touched.
"""

from __future__ import annotations

import gc
import operator
import typing
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Table, and_, bindparam, case, cast, func, insert, literal, null, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.note_values import Moment
from core.notes import N_, Note
from core.prepared import FastWork, Prepared
from procurement import policy
from procurement.models import (
    DemandStat,
    DraftSlot,
    ProcurementLock,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPolicy,
    SiteProcurementSettings,
    StockView,
    SupplierItem,
)
from procurement.orders import DRAFT, OPEN_STATUSES, SYSTEM_ACTOR
from procurement.stock import roll_windows
from procurement.suppliers import Offer, candidates, cheapest, load_offers
from procurement.workflow import submit_system_drafts

# Ids per `IN (...)` list. As bound parameters (the dirty-flag UPDATE, the draft-line read) 5,000 stays under
# SQLite's default limit of 32,766 bound parameters (3.32 and later) and PostgreSQL's 65,535; rendered inline
# (`_load_pairs`) it keeps one statement's text to some tens of kilobytes.
IDS_PER_STATEMENT = 5000
# Drafts per round when reading their lines: that statement binds these ids plus up to IDS_PER_STATEMENT item ids,
# so 500 keeps it at 5,500 parameters, inside the limits above.
DRAFTS_PER_ROUND = 500


@dataclass(frozen=True, slots=True)
class Proposal:
    item_id: int
    site_id: int
    offer: Offer
    quantity: int
    reason: Note  # stored on the line as a note (core/notes.py), shown in the reader's language
    cost_center_id: int | None


@dataclass(frozen=True, slots=True)
class DraftChange:
    """What one run did to one system draft."""

    po_number: str
    lines_added: int
    lines_merged: int
    created: bool


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
    rows = _load_pairs(session, dirty if only_dirty else None)
    items = {r[0] for r in rows}
    open_qty = _open_quantities(session, items if only_dirty else None)
    offers = load_offers(session, items if only_dirty else None)
    proposals, problems = _propose(rows, open_qty, offers, now)
    changes = _write(session, proposals, clock, actor)
    created, merged, pos_created = (sum(c.lines_added for c in changes), sum(c.lines_merged for c in changes),
                                    sum(1 for c in changes if c.created))  # fmt: skip
    for start in range(0, len(dirty), IDS_PER_STATEMENT):  # only what this run looked at; later changes stay dirty
        batch = dirty[start : start + IDS_PER_STATEMENT]
        session.execute(update(StockView).where(StockView.id.in_(batch)).values(dirty=False))
    examined = len(dirty) if only_dirty else session.scalar(select(func.count()).select_from(ReorderPolicy)) or 0
    return ReplenishReport(examined, len(proposals), created, merged, pos_created, tuple(problems[:50]), changes)


class PairRow(typing.NamedTuple):
    """One (item, site): its policy, on-hand and rolling demand; `_load_pairs` selects a column labelled with
    each field's name, in this order."""

    item_id: int
    site_id: int
    kind: str
    min_qty: int
    max_qty: int
    reorder_level: int
    reorder_qty: int
    service_level: float
    cover_days: int
    order_cost: Any
    holding_rate: Any
    cost_center_id: int | None
    on_hand: int
    total: int | None
    total_sq: int | None
    window_days: int | None


def _load_pairs(session: Session, stock_ids: list[int] | None) -> list[PairRow]:
    """Policy, stock and demand of the pairs that might need an order, by item and site.

    Open quantities are never negative, so a min/max or reorder-level pair whose on-hand alone already
    reaches its trigger cannot need one and is filtered out in SQL, and so is an automatic reorder point whose
    on-hand is above the highest point it could have (`_rop_may_reach`). Pairs procurement has never heard a
    stock level for are left alone: ordering on a guess is worse. One query per way of deciding: the stock rules
    need no demand and no lead time, so their query joins neither (and each query's filter stays simple enough
    for an index).
    """
    rows: list[PairRow] = []
    for query in (_stock_rule_pairs(), _reorder_point_pairs(session, stock_ids)):
        if query is None:
            continue
        if stock_ids is None:
            rows.extend(PairRow._make(row) for row in _fetch_plain(session, query))
            continue
        for start in range(0, len(stock_ids), IDS_PER_STATEMENT):
            batch = query.where(StockView.id.in_(stock_ids[start : start + IDS_PER_STATEMENT]))
            rows.extend(PairRow._make(row) for row in _fetch_plain(session, batch))
    rows.sort(key=_pair_order)
    return rows


_pair_order = operator.itemgetter(0, 1)  # (item_id, site_id): the same order of lines on both databases


def _pair_columns(demand: type[DemandStat] | None) -> list[Any]:
    """PairRow's columns, labelled; without `demand` its three columns are NULL (a stock rule never reads them)."""
    p = ReorderPolicy
    columns: dict[str, Any] = {
        "item_id": p.item_id,
        "site_id": p.site_id,
        "kind": p.kind,
        "min_qty": p.min_qty,
        "max_qty": p.max_qty,
        "reorder_level": p.reorder_level,
        "reorder_qty": p.reorder_qty,
        "service_level": cast(p.service_level, Float),
        "cover_days": p.cover_days,
        "order_cost": p.order_cost,
        "holding_rate": p.holding_rate,
        "cost_center_id": p.cost_center_id,
        "on_hand": StockView.on_hand,
        "total": null() if demand is None else demand.total,
        "total_sq": null() if demand is None else demand.total_sq,
        "window_days": null() if demand is None else demand.window_days,
    }
    return [columns[name].label(name) for name in PairRow._fields]


def _stock_rule_pairs() -> Any:
    """Min/max and reorder-level pairs whose on-hand is below their trigger."""
    p, sv = ReorderPolicy, StockView
    return (
        select(*_pair_columns(None))
        .select_from(p)
        .join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
        .where(
            p.active.is_(True),
            p.kind.in_((policy.MIN_MAX, policy.REORDER_LEVEL)),  # on the policy alone: checked before the join
            sv.on_hand < case((p.kind == policy.MIN_MAX, p.min_qty), else_=p.reorder_level),
        )
    )


def _reorder_point_pairs(session: Session, stock_ids: list[int] | None) -> Any:
    """Automatic-reorder-point pairs that might be at or below their point (None when there are none)."""
    top_level = _top_service_level(session, stock_ids)
    if top_level is None:
        return None
    p, sv, ds = ReorderPolicy, StockView, DemandStat
    longest = (
        select(SupplierItem.item_id.label("item_id"), func.max(SupplierItem.lead_time_days).label("lead_days"))
        .group_by(SupplierItem.item_id)
        .subquery("longest_lead")
    )
    may_reach = _rop_may_reach(float(top_level), sv.on_hand, ds, longest.c.lead_days)
    return (
        select(*_pair_columns(ds))
        .select_from(p)
        .join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
        .outerjoin(ds, and_(ds.item_id == p.item_id, ds.site_id == p.site_id))
        .outerjoin(longest, longest.c.item_id == p.item_id)
        .where(p.active.is_(True), p.kind == policy.AUTO_ROP, may_reach)
    )


def _top_service_level(session: Session, stock_ids: list[int] | None) -> Any:
    """The highest service level of the active automatic-reorder-point policies, or None when there are none; of
    these pairs' policies only when given (an incremental run then reads its own few pairs, not every policy)."""
    p, sv = ReorderPolicy, StockView
    query = select(func.max(p.service_level)).where(p.kind == policy.AUTO_ROP, p.active.is_(True))
    if stock_ids is None:
        return session.scalar(query)
    query = query.select_from(p).join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
    levels = [
        session.scalar(query.where(sv.id.in_(stock_ids[start : start + IDS_PER_STATEMENT])))
        for start in range(0, len(stock_ids), IDS_PER_STATEMENT)
    ]
    return max((level for level in levels if level is not None), default=None)


def _rop_may_reach(top_level: float, on_hand: Any, ds: type[DemandStat], lead_days: Any) -> Any:
    """SQL that is true for every automatic-reorder-point pair `_propose` could order (and for a few more), given
    the highest service level of the policies it looks at.

    `_propose` orders when position <= ceil(mean·L + z·σ·√L), with L the lead time of the item's chosen offer,
    position >= on-hand, mean = T/d and σ² = S/d - mean² (T, S: Σq, Σq² over d days). With the item's longest lead
    time of any supplier item (Lmax >= L) and the highest z of any such policy, an order needs
    gap = on_hand - 1 - mean·Lmax < z·σ·√Lmax. Times d > 0 that is G = (on_hand - 1)·d - T·Lmax < 0 or
    G² < z²·(S·d - T²)·Lmax: integer arithmetic but for z², and no square root for the database to lack. One more
    unit of margin (on_hand - 2) absorbs rounding in z². No demand (no window or nothing dispensed) orders only at
    a position of 0 or less.
    """
    z = policy.z_for(top_level)
    lead = func.coalesce(lead_days, 0)
    gap_times_days = (on_hand - 2) * ds.window_days - ds.total * lead
    no_demand = or_(ds.total.is_(None), ds.total <= 0, func.coalesce(ds.window_days, 0) <= 0)
    return or_(
        and_(no_demand, on_hand <= 0),
        and_(
            ds.window_days > 0,
            or_(
                gap_times_days <= 0,
                gap_times_days * gap_times_days
                < literal(z * z, Float) * (ds.total_sq * ds.window_days - ds.total * ds.total) * lead,
            ),
        ),
    )


def _fetch_plain(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """Plain tuples straight from the driver, in the order of `query`'s columns: ~10^5 rows of ints, strings and
    floats need no result processing.

    The statement's only parameters are our own constants and integer ids, rendered inline.
    """
    conn = session.connection()
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


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
        if kind == rop_kind and not below(
            position, r.total or 0, r.total_sq or 0, r.window_days or 0, lead, r.service_level
        ):
            continue
        key = None if kind == rop_kind else (kind, position, r.min_qty, r.max_qty, r.reorder_level, r.reorder_qty)
        need = needs.get(key) if key is not None else None
        if need is None:
            need = policy.decide(_policy_input(r, position, offer_top))
            if key is not None:
                needs[key] = need
        if need.quantity <= 0:
            continue
        offer = cheapest(best, need.quantity)
        if offer is None:
            problems.append(f"item {item_id} at site {site_id}: {need.reason}, but no valid supplier item")
            continue
        line_key = None if key is None else (key, offer.pack_qty, offer.order_multiple, offer.moq)
        line = made.get(line_key) if line_key is not None else None
        if line is None:
            rounded = policy.round_order(need.quantity, offer.pack_qty, offer.order_multiple, offer.moq)
            line = (rounded.quantity, policy.line_reason(need, rounded))
            if line_key is not None:
                made[line_key] = line
        proposals.append(Proposal(item_id, site_id, offer, line[0], line[1], r.cost_center_id))
    return proposals, problems


def _policy_input(r: PairRow, position: int, offer: Offer | None) -> policy.PolicyInput:
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
        service_level=r.service_level, cover_days=r.cover_days, eoq=eoq,
    )  # fmt: skip


_LINES = typing.cast(Table, PurchaseOrderLine.__table__)
_NEW_LINE_COLUMNS = ("po_id", "line_number", "item_id", "supplier_item_id", "quantity", "unit_price", "received_qty",
                     "closed_qty", "reason")  # fmt: skip
_INSERT_LINE = Prepared(insert(_LINES).values({name: bindparam(name) for name in _NEW_LINE_COLUMNS}))
_MERGE_LINE = (
    _LINES.update()
    .where(_LINES.c.id == bindparam("line_id"))
    .values(
        quantity=bindparam("new_qty"),
        unit_price=bindparam("new_price"),
        supplier_item_id=bindparam("new_si"),
        reason=bindparam("new_reason"),
    )
)


def _encoded(reason: Note, done: dict[int, str]) -> str:
    """The stored form of a line's reason, encoded once per note object (a run's lines share them)."""
    text = done.get(id(reason))
    if text is None:
        text = done[id(reason)] = reason.encode()
    return text


def _merged_reason(old: str, stamp: Moment, prop: Proposal, quantity: int) -> str:
    """The line's stored reason with one more line for what this run added."""
    more = Note.of(N_("%(at)s: +%(added)s: %(reason)s (now %(quantity)s)"),
                   at=stamp, added=prop.quantity, reason=prop.reason, quantity=quantity)  # fmt: skip
    return f"{old}\n{more.encode()}" if old else more.encode()


def _existing_lines(
    session: Session, po_ids: list[int], items: list[int]
) -> tuple[dict[tuple[int, int], Any], dict[int, int]]:
    """Lines already on these drafts for these items (to merge into), and each draft's next line number."""
    existing: dict[tuple[int, int], Any] = {}
    next_no: dict[int, int] = defaultdict(lambda: 1)
    line = PurchaseOrderLine
    conn = session.connection()
    for chunk in range(0, len(po_ids), DRAFTS_PER_ROUND):
        ids = po_ids[chunk : chunk + DRAFTS_PER_ROUND]
        for po_id, top in conn.execute(
            select(line.po_id, func.max(line.line_number)).where(line.po_id.in_(ids)).group_by(line.po_id)
        ):
            next_no[po_id] = int(top) + 1
        for item_chunk in range(0, len(items), IDS_PER_STATEMENT):
            for row in conn.execute(
                select(line.id, line.po_id, line.item_id, line.quantity, line.reason).where(
                    line.po_id.in_(ids), line.item_id.in_(items[item_chunk : item_chunk + IDS_PER_STATEMENT])
                )
            ):
                existing[(row.po_id, row.item_id)] = row
    return existing, next_no


def _write(session: Session, proposals: list[Proposal], clock: Clock, actor: str) -> tuple[DraftChange, ...]:
    """Bulk: find or create the drafts, then insert new lines and merge into existing ones (re-priced)."""
    by_key: dict[tuple[int, int, str], list[Proposal]] = defaultdict(list)
    for prop in proposals:
        by_key[(prop.offer.supplier_id, prop.site_id, prop.offer.currency)].append(prop)
    if not by_key:
        return ()
    drafts, new_numbers = _drafts_for(session, by_key, clock, actor)
    po_ids = sorted(po_id for po_id, _ in drafts.values())
    existing, next_no = _existing_lines(session, po_ids, sorted({prop.item_id for prop in proposals}))
    stamp = Moment(clock.now())
    inserts, updates = [], []
    encoded: dict[int, str] = {}  # by the note's id: lines of a run share their reason notes (see _propose)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for key, props in by_key.items():
        po_id = drafts[key][0]
        for prop in props:
            old = existing.get((po_id, prop.item_id))
            if old is None:
                inserts.append(
                    {"po_id": po_id, "line_number": next_no[po_id], "item_id": prop.item_id,
                     "supplier_item_id": prop.offer.supplier_item_id, "quantity": prop.quantity,
                     "unit_price": prop.offer.price_for(prop.quantity), "received_qty": 0, "closed_qty": 0,
                     "reason": _encoded(prop.reason, encoded)}
                )  # fmt: skip
                next_no[po_id] += 1
                counts[po_id][0] += 1
            else:
                qty = old.quantity + prop.quantity
                updates.append(
                    {"line_id": old.id, "new_qty": qty, "new_price": prop.offer.price_for(qty),
                     "new_si": prop.offer.supplier_item_id,
                     "new_reason": _merged_reason(old.reason, stamp, prop, qty)}
                )  # fmt: skip
                counts[po_id][1] += 1
    if inserts:  # one executemany, compiled once: tens of thousands of rows in a full run
        FastWork.of_session(session).execute_many(_INSERT_LINE, inserts)
    if updates:
        session.connection().execute(_MERGE_LINE, updates)
    orders_table = typing.cast(Table, PurchaseOrder.__table__)
    session.connection().execute(
        orders_table.update().where(orders_table.c.id.in_(po_ids)).values(updated_at=clock.now())
    )
    changes = []
    for po_id, number in drafts.values():
        added, merged = counts[po_id]
        audit.record(session, actor, "po.replenish", "purchase_order", number,
                     after={"lines_added": added, "lines_merged": merged}, clock=clock)  # fmt: skip
        changes.append(DraftChange(number, added, merged, number in new_numbers))
    return tuple(sorted(changes, key=lambda c: c.po_number))


def _drafts_for(
    session: Session, by_key: dict[tuple[int, int, str], list[Proposal]], clock: Clock, actor: str
) -> tuple[dict[tuple[int, int, str], tuple[int, str]], frozenset[str]]:
    """(supplier, site, currency) → (po_id, po_number) of its open system draft, creating (and naming) missing ones."""
    found = {
        (r.supplier_id, r.site_id, r.currency): (r.po_id, r.po_number)
        for r in session.execute(
            select(DraftSlot.supplier_id, DraftSlot.site_id, DraftSlot.currency, DraftSlot.po_id,
                   PurchaseOrder.po_number).join(PurchaseOrder, PurchaseOrder.id == DraftSlot.po_id)
        )
    }  # fmt: skip
    found = {key: value for key, value in found.items() if key in by_key}
    missing = [key for key in by_key if key not in found]
    if not missing:
        return found, frozenset()
    taxes = dict(session.execute(select(SiteProcurementSettings.site_id, SiteProcurementSettings.tax_rate)).all())
    now, tag = clock.now(), uuid.uuid4().hex[:12]
    temp = {key: f"tmp-{tag}-{n}" for n, key in enumerate(missing)}
    session.execute(
        insert(PurchaseOrder),
        [{"po_number": temp[key], "supplier_id": key[0], "site_id": key[1], "currency": key[2], "status": DRAFT,
          "origin": "system", "requester": actor, "last_editor": actor,
          "cost_center_id": by_key[key][0].cost_center_id, "tax_rate": taxes.get(key[1], Decimal("0")),
          "created_at": now, "updated_at": now} for key in missing],
    )  # fmt: skip
    ids = dict(
        session.execute(
            select(PurchaseOrder.po_number, PurchaseOrder.id).where(PurchaseOrder.po_number.like(f"tmp-{tag}-%"))
        ).all()
    )
    session.execute(
        update(PurchaseOrder), [{"id": ids[temp[k]], "po_number": f"PO-{ids[temp[k]]:06d}"} for k in missing]
    )
    session.execute(
        insert(DraftSlot),
        [{"supplier_id": k[0], "site_id": k[1], "currency": k[2], "po_id": ids[temp[k]]} for k in missing],
    )  # the unique (supplier, site, currency) slot: a twin draft cannot exist
    for key in missing:
        po_id = ids[temp[key]]
        found[key] = (po_id, f"PO-{po_id:06d}")
        audit.record(session, actor, "po.create", "purchase_order", found[key][1], after={"status": DRAFT},
                     clock=clock)  # fmt: skip
    return found, frozenset(found[key][1] for key in missing)


__all__ = ["SYSTEM_ACTOR", "DraftChange", "ReplenishReport", "replenish", "submit_system_drafts"]
