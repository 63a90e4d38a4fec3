"""Replenishment exceptions: items below their minimum that cannot be ordered now, each with the reason and the fix.

Worked out from the data every time (never stored), so the list is right the moment the fix is made:
- no supplier sells the item, every supplier of it is inactive, its supplier items are out of their validity
  dates, or none has a price (replenishment skips the item);
- the system draft holding the item is stopped by a budget in "stop" mode (it stays a draft);
- the order holding the item waits for a person because review-before-order is on (or another auto-approval
  rule did not pass).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.models import Item, Site
from core.notes import N_, Note
from procurement import approval
from procurement.models import (
    PriceBreak,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPolicy,
    StockView,
    Supplier,
    SupplierItem,
)
from procurement.orders import DRAFT, OPEN_STATUSES, PENDING, po_totals

NO_SUPPLIER, SUPPLIER_INACTIVE, NOT_VALID, NO_PRICE = "no_supplier", "supplier_inactive", "not_valid", "no_price"
BUDGET_STOP, REVIEW = "budget_stop", "review"
TITLES = {
    NO_SUPPLIER: N_("No supplier"),
    SUPPLIER_INACTIVE: N_("Supplier inactive"),
    NOT_VALID: N_("Supplier item not valid today"),
    NO_PRICE: N_("No price"),
    BUDGET_STOP: N_("Budget stop"),
    REVIEW: N_("Waiting for review"),
}


@dataclass(frozen=True, slots=True)
class Fix:
    """Where the fix is made: an endpoint with its arguments (the template builds the link) and the words."""

    words: Note
    endpoint: str
    args: tuple[tuple[str, Any], ...] = ()
    anchor: str = ""

    @property
    def text(self) -> str:
        """The words in the reader's language."""
        return self.words.shown()


@dataclass(frozen=True, slots=True)
class ReplenishException:
    sku: str
    item_name: str
    site: str
    on_hand: int
    trigger: int  # the min (or reorder level) the item is below
    position: int
    kind: str
    why: Note  # worked out when shown: a message id with its values
    fix: Fix
    po_number: str = ""

    @property
    def title(self) -> str:
        """The kind of exception in the reader's language."""
        return gettext(TITLES[self.kind])

    @property
    def reason(self) -> str:
        """Why the item is not ordered, in the reader's language."""
        return self.why.shown()

    @property
    def title_english(self) -> str:
        return TITLES[self.kind]

    @property
    def reason_english(self) -> str:
        return self.why.english()


@dataclass(frozen=True, slots=True)
class _Pair:
    item_id: int
    site_id: int
    sku: str
    name: str
    site: str
    on_hand: int
    trigger: int
    position: int


def exceptions(session: Session, clock: Clock, sku: str | None = None) -> list[ReplenishException]:
    """Every exception now (or only those of one SKU), ordered by SKU."""
    pairs = _pairs_below(session, sku)
    found = _supply_problems(session, pairs, clock.now().date())
    found += _held_orders(session, pairs, clock)
    return sorted(found, key=lambda e: (e.sku, e.site, e.kind))


def _pairs_below(session: Session, sku: str | None) -> list[_Pair]:
    """(item, site) pairs with a min/max or reorder-level policy whose position is below the trigger."""
    p, sv, line, po = ReorderPolicy, StockView, PurchaseOrderLine, PurchaseOrder
    remaining = line.quantity - line.received_qty - line.closed_qty
    open_qty = (
        select(line.item_id, po.site_id, func.sum(case((remaining > 0, remaining), else_=0)).label("qty"))
        .join(po, po.id == line.po_id)
        .where(po.status.in_(OPEN_STATUSES))
        .group_by(line.item_id, po.site_id)
        .subquery()
    )
    trigger = case((p.kind == "min_max", p.min_qty), else_=p.reorder_level)
    query = (
        select(p.item_id, p.site_id, Item.sku, Item.name, Site.code, sv.on_hand, trigger.label("trigger"),
               (sv.on_hand + func.coalesce(open_qty.c.qty, 0)).label("position"))
        .join(sv, and_(sv.item_id == p.item_id, sv.site_id == p.site_id))
        .join(Item, Item.id == p.item_id)
        .join(Site, Site.id == p.site_id)
        .outerjoin(open_qty, and_(open_qty.c.item_id == p.item_id, open_qty.c.site_id == p.site_id))
        .where(p.active.is_(True), p.kind.in_(("min_max", "reorder_level")), sv.on_hand < trigger)
        .order_by(Item.sku)
    )  # fmt: skip
    if sku is not None:
        query = query.where(Item.sku == sku)
    return [_Pair(*row) for row in session.execute(query).all()]


def _supply_problems(session: Session, pairs: list[_Pair], today: date) -> list[ReplenishException]:
    """Pairs still below the trigger after counting open orders, whose item replenishment cannot source."""
    short = [pair for pair in pairs if pair.position < pair.trigger]
    if not short:
        return []
    rows = session.execute(
        select(SupplierItem.id, SupplierItem.item_id, SupplierItem.supplier_part_number, SupplierItem.valid_from,
               SupplierItem.valid_to, Supplier.id.label("supplier_id"), Supplier.code, Supplier.active)
        .join(Supplier, Supplier.id == SupplierItem.supplier_id)
        .where(SupplierItem.item_id.in_(sorted({pair.item_id for pair in short})))
    ).all()  # fmt: skip
    priced = set(
        session.scalars(
            select(PriceBreak.supplier_item_id).where(PriceBreak.supplier_item_id.in_([r.id for r in rows]))
        )
    )
    offers: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        offers[row.item_id].append(row)
    found = []
    for pair in short:
        kind, reason, fix = _why_unsourced(pair, offers.get(pair.item_id, []), priced, today)
        if kind:
            found.append(ReplenishException(pair.sku, pair.name, pair.site, pair.on_hand, pair.trigger,
                                            pair.position, kind, reason, fix))  # fmt: skip
    return found


def _why_unsourced(pair: _Pair, rows: list[Any], priced: set[int], today: date) -> tuple[str, Note, Fix]:
    """The first thing that stops the item being ordered, or ("", …) when a supplier item would do."""
    need = {"sku": pair.sku, "on_hand": str(pair.on_hand), "position": str(pair.position),
            "trigger": str(pair.trigger)}  # fmt: skip
    if not rows:
        return NO_SUPPLIER, Note.of(
            N_("%(sku)s is %(on_hand)s on hand (position %(position)s), below %(trigger)s, and no supplier lists it"),
            **need,
        ), Fix(Note.of(N_("Add a supplier item (import the supplier's catalogue)")), "procurement.supplier_list",
               anchor="import")  # fmt: skip
    active = [r for r in rows if r.active]
    if not active:
        codes = ", ".join(sorted({r.code for r in rows}))
        return SUPPLIER_INACTIVE, Note.of(
            N_("%(sku)s is %(on_hand)s on hand (position %(position)s), below %(trigger)s, and its only supplier(s) "
               "%(codes)s are inactive"), codes=codes, **need,
        ), Fix(Note.of(N_("Reactivate %(code)s or add another supplier"), code=rows[0].code),
               "procurement.supplier_view", (("supplier_id", rows[0].supplier_id),))  # fmt: skip
    valid = [r for r in active if (r.valid_from is None or r.valid_from <= today)
             and (r.valid_to is None or today <= r.valid_to)]  # fmt: skip
    if not valid:
        r = active[0]
        span = f"{r.valid_from or '…'} – {r.valid_to or '…'}"
        return NOT_VALID, Note.of(
            N_("%(sku)s is %(on_hand)s on hand (position %(position)s), below %(trigger)s, and %(code)s's "
               "%(part)s is valid only %(span)s"), code=r.code, part=r.supplier_part_number, span=span, **need,
        ), Fix(Note.of(N_("Renew %(part)s's validity at %(code)s"), part=r.supplier_part_number, code=r.code),
               "procurement.supplier_view", (("supplier_id", r.supplier_id),))  # fmt: skip
    if not any(r.id in priced for r in valid):
        r = valid[0]
        return NO_PRICE, Note.of(
            N_("%(sku)s is %(on_hand)s on hand (position %(position)s), below %(trigger)s, and %(code)s's "
               "%(part)s has no price"), code=r.code, part=r.supplier_part_number, **need,
        ), Fix(Note.of(N_("Add a price break to %(part)s at %(code)s"), part=r.supplier_part_number, code=r.code),
               "procurement.supplier_view", (("supplier_id", r.supplier_id),))  # fmt: skip
    return "", Note(""), Fix(Note(""), "")


def _held_orders(session: Session, pairs: list[_Pair], clock: Clock) -> list[ReplenishException]:
    """System drafts a budget stops, and system orders waiting for a person, holding items below their trigger."""
    if not pairs:
        return []
    by_item = {(pair.item_id, pair.site_id): pair for pair in pairs}
    orders = session.execute(
        select(PurchaseOrder, PurchaseOrderLine.item_id)
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .where(
            PurchaseOrder.origin == "system",
            or_(PurchaseOrder.status == DRAFT, PurchaseOrder.status == PENDING),
            PurchaseOrderLine.item_id.in_(sorted({pair.item_id for pair in pairs})),
        )
        .order_by(PurchaseOrder.id)
    ).all()
    verdicts: dict[int, tuple[str, Note, Fix] | None] = {}
    found = []
    for po, item_id in orders:
        pair = by_item.get((item_id, po.site_id))
        if pair is None:
            continue
        if po.id not in verdicts:
            verdicts[po.id] = _hold_of(session, po, clock)
        verdict = verdicts[po.id]
        if verdict is not None:
            kind, reason, fix = verdict
            found.append(ReplenishException(pair.sku, pair.name, pair.site, pair.on_hand, pair.trigger,
                                            pair.position, kind, reason, fix, po.po_number))  # fmt: skip
    return found


def _hold_of(session: Session, po: PurchaseOrder, clock: Clock) -> tuple[str, Note, Fix] | None:
    total = po_totals(session, po).total
    if po.status == DRAFT:
        check = approval.budget_check(session, po, total, clock)
        if check.stop:
            budget = check.note if check.note is not None else ""
            return BUDGET_STOP, Note.of(
                N_("%(po_number)s stays a draft: %(budget)s (the budget stops orders over it)"),
                po_number=po.po_number, budget=budget,
            ), Fix(Note.of(N_("Raise the budget or switch it to warn")), "procurement.budget_list", anchor="budgets")
        return None
    blocker = approval.auto_approval_blocker(session, po, total)
    if blocker is None:
        return None
    return REVIEW, Note.of(N_("%(po_number)s waits for approval: %(blocker)s"), po_number=po.po_number,
                           blocker=blocker), Fix(
        Note.of(N_("Open %(po_number)s for an approver's decision"), po_number=po.po_number), "procurement.po_view",
        (("po_number", po.po_number),))  # fmt: skip
