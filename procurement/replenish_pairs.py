"""The (item, site) pairs a replenishment looks at: policy, on-hand and demand of each pair that might need an order.

Read with a few plain SQL queries (no ORM rows), filtered in the database by bounds that indexes serve, so a full run
over hundreds of thousands of policies brings only the pairs near or below their trigger into Python.
"""

from __future__ import annotations

import operator
import typing
from typing import Any

from sqlalchemy import Float, and_, bindparam, case, cast, func, literal, null, or_, select
from sqlalchemy.orm import Session

from procurement import policy
from procurement.models import DemandStat, ReorderPolicy, StockView, SupplierItem

# Ids per `IN (...)` list. As bound parameters (the dirty-flag UPDATE, the draft-line read) 5,000 stays under
# SQLite's default limit of 32,766 bound parameters (3.32 and later) and PostgreSQL's 65,535; rendered inline
# (`load_pairs`) it keeps one statement's text to some tens of kilobytes.
IDS_PER_STATEMENT = 5000


class PairRow(typing.NamedTuple):
    """One (item, site): its policy, on-hand and rolling demand; `load_pairs` selects a column labelled with
    each field's name, in this order."""

    item_id: int
    site_id: int
    kind: str
    min_qty: int
    max_qty: int
    reorder_level: int
    reorder_qty: int
    service_level: float | None  # this and the next three: None in a stock rule's row (only a reorder point reads them)
    cover_days: int | None
    order_cost: Any
    holding_rate: Any
    cost_center_id: int | None
    on_hand: int
    total: int | None
    total_sq: int | None
    window_days: int | None


def load_pairs(session: Session, stock_ids: list[int] | None) -> list[PairRow]:
    """Policy, stock and demand of the pairs that might need an order, by item and site.

    Open quantities are never negative, so a min/max or reorder-level pair whose on-hand alone already
    reaches its trigger cannot need one and is filtered out in SQL, and so is an automatic reorder point whose
    on-hand is above the highest point it could have (`_rop_may_reach`). Pairs procurement has never heard a
    stock level for are left alone: ordering on a guess is worse. One query per way of deciding: the stock rules
    need no demand and no lead time, so their query joins neither (and each query's filter stays simple enough
    for an index).
    """
    tops = _highest(session)
    rows: list[PairRow] = []
    batches = [None] if stock_ids is None else [
        stock_ids[start : start + IDS_PER_STATEMENT] for start in range(0, len(stock_ids), IDS_PER_STATEMENT)
    ]  # fmt: skip
    for batch in batches:
        stock_rules = None if tops.trigger is None else _stock_rule_pairs(tops.trigger)
        levels = tops.service_level
        points = None if levels is None else _reorder_point_pairs(float(levels), tops.lead_days, batch)
        queries = (stock_rules, points)
        for query in queries:
            if query is not None:
                query = query if batch is None else query.where(StockView.id.in_(batch))
                rows.extend(PairRow._make(row) for row in _fetch_plain(session, query))
    rows.sort(key=_pair_order)
    return rows


class _Tops(typing.NamedTuple):
    trigger: int | None  # the highest min (min/max) or reorder level of the active stock rules; None: there are none
    service_level: Any  # the highest service level of the active automatic reorder points; None: there are none
    lead_days: int  # the longest lead time of any supplier item (0 without any)


def _top(kind: str, column: Any) -> Any:
    p = ReorderPolicy
    named: Any = bindparam(f"kind_{kind}", kind, literal_execute=True)  # written into the SQL: see `_highest`
    return select(func.max(column)).where(p.kind == named, p.active.is_(True)).scalar_subquery()


_HIGHEST = select(
    _top(policy.MIN_MAX, ReorderPolicy.min_qty),
    _top(policy.REORDER_LEVEL, ReorderPolicy.reorder_level),
    cast(_top(policy.AUTO_ROP, ReorderPolicy.service_level), Float),  # the maximum of the column, as its index has it
    select(func.max(SupplierItem.lead_time_days)).scalar_subquery(),  # a scan of the (few) supplier items
)


def _highest(session: Session) -> _Tops:
    """The highest triggers of the active policies, each read from the top of its partial index (procurement_0011)
    without a scan of the policies. The kinds are written into the statement as it runs (the compiled statement is
    cached): a planner uses a partial index only for a query that names its kind."""
    found = session.connection().execute(_HIGHEST).one()
    triggers = [int(value) for value in found[:2] if value is not None]
    return _Tops(max(triggers) if triggers else None, found[2], int(found[3] or 0))


_pair_order = operator.itemgetter(0, 1)  # (item_id, site_id): the same order of lines on both databases


def _pair_columns(demand: type[DemandStat] | None) -> list[Any]:
    """PairRow's columns, labelled; without `demand` (the stock rules' query) the columns only an automatic reorder
    point reads are NULL: its demand, service level, cover days and EOQ costs."""
    p = ReorderPolicy
    rop_only = demand is None

    def of_rop(column: Any) -> Any:
        return null() if rop_only else column

    columns: dict[str, Any] = {
        "item_id": p.item_id,
        "site_id": p.site_id,
        "kind": p.kind,
        "min_qty": p.min_qty,
        "max_qty": p.max_qty,
        "reorder_level": p.reorder_level,
        "reorder_qty": p.reorder_qty,
        "service_level": of_rop(cast(p.service_level, Float)),
        "cover_days": of_rop(p.cover_days),
        "order_cost": of_rop(p.order_cost),
        "holding_rate": of_rop(p.holding_rate),
        "cost_center_id": p.cost_center_id,
        "on_hand": StockView.on_hand,
        "total": null() if demand is None else demand.total,
        "total_sq": null() if demand is None else demand.total_sq,
        "window_days": null() if demand is None else demand.window_days,
    }
    return [columns[name].label(name) for name in PairRow._fields]


def _stock_rule_pairs(highest_trigger: int) -> Any:
    """Min/max and reorder-level pairs whose on-hand is below their trigger.

    Below its own trigger is below the highest one too: that second, redundant test is what the index on
    (on_hand, item_id, site_id) serves, so only the pairs low enough for some policy are looked up, not every one.
    """
    p, sv = ReorderPolicy, StockView
    return (
        select(*_pair_columns(None))
        .select_from(p)
        .join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
        .where(
            p.active.is_(True),
            # NULL, so false, for any other kind; tested inside the CASE rather than as `kind IN (...)`, which an
            # index on (kind, ...) would serve: SQLite, without statistics, would then look up every such policy
            sv.on_hand
            < case((p.kind == policy.MIN_MAX, p.min_qty), (p.kind == policy.REORDER_LEVEL, p.reorder_level)),
            sv.on_hand < highest_trigger,
        )
    )


def _reorder_point_pairs(top_level: float, longest_lead: int, stock_ids: list[int] | None) -> Any:
    """Automatic-reorder-point pairs that might be at or below their point, given the highest service level and the
    longest lead time of any supplier item; of these stock rows' items only, when given (the caller picks the rows).

    Tested first with that one longest lead time, on the stock and demand alone: most pairs fail it before their
    item's own longest lead time is looked up for the same test (the lead time only raises a point, so the first
    test lets through every pair the second does)."""
    p, sv, ds, si = ReorderPolicy, StockView, DemandStat, SupplierItem
    leads = select(si.item_id.label("item_id"), func.max(si.lead_time_days).label("lead_days")).group_by(si.item_id)
    if stock_ids is not None:  # an incremental run: the lead times of its few items, not of the whole catalogue
        leads = leads.where(si.item_id.in_(select(sv.item_id).where(sv.id.in_(stock_ids))))
    longest = leads.subquery("longest_lead")
    return (
        select(*_pair_columns(ds))
        .select_from(p)
        .join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
        .outerjoin(ds, and_(ds.item_id == p.item_id, ds.site_id == p.site_id))
        .outerjoin(longest, longest.c.item_id == p.item_id)
        .where(
            p.active.is_(True),
            p.kind == policy.AUTO_ROP,
            _rop_may_reach(top_level, sv.on_hand, ds, literal(longest_lead)),
            _rop_may_reach(top_level, sv.on_hand, ds, func.coalesce(longest.c.lead_days, 0)),
        )
    )


def _rop_may_reach(top_level: float, on_hand: Any, ds: type[DemandStat], lead: Any) -> Any:
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
