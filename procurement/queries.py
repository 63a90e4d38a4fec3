"""Read models for the pages: the approval queue with filters and totals, PO detail, suppliers, budgets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core import audit, notes
from core.clock import Clock
from core.models import CostCenter, Item, Site
from procurement import approval
from procurement.approval import committed_spend
from procurement.history import sentence, who
from procurement.models import (
    Approval,
    ApprovalRule,
    Budget,
    PriceBreak,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPolicy,
    ReviewSwitch,
    StockView,
    Supplier,
    SupplierItem,
)
from procurement.orders import COMMITTED_STATUSES, ORDER_CHANNELS, PENDING, POStatus, get_po, po_totals, totals_for


@dataclass(frozen=True, slots=True)
class QueueLine:
    line_number: int
    sku: str
    quantity: int
    unit_price: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class QueueRow:
    po_number: str
    status: POStatus
    supplier: str
    site: str
    currency: str
    total: Decimal
    requester: str
    origin: str
    created_at: datetime
    warnings: tuple[str, ...]
    lines: tuple[QueueLine, ...]


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str = PENDING
    site: str = ""
    supplier: str = ""
    min_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    rows: tuple[QueueRow, ...]
    totals: tuple[tuple[str, Decimal], ...]  # per currency
    sites: tuple[str, ...]
    suppliers: tuple[str, ...]


# Built once (the ERP polls the list): building a statement costs more than running it on a small list.
_QUEUE = (
    select(PurchaseOrder.id, PurchaseOrder.po_number, PurchaseOrder.status, Supplier.code, Site.code,
           PurchaseOrder.currency, PurchaseOrder.tax_rate, PurchaseOrder.requester, PurchaseOrder.origin,
           PurchaseOrder.created_at, PurchaseOrder.warnings)
    .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
    .join(Site, Site.id == PurchaseOrder.site_id)
    .order_by(PurchaseOrder.id.desc())
    .limit(500)
)  # fmt: skip
_LINES = (
    select(PurchaseOrderLine.po_id, PurchaseOrderLine.line_number, Item.sku, PurchaseOrderLine.quantity,
           PurchaseOrderLine.unit_price, PurchaseOrderLine.reason)
    .join(Item, Item.id == PurchaseOrderLine.item_id)
    .where(PurchaseOrderLine.po_id.in_(bindparam("po_ids", expanding=True)))
    .order_by(PurchaseOrderLine.po_id, PurchaseOrderLine.line_number)
)  # fmt: skip


def queue(session: Session, flt: QueueFilter, choices: bool = True) -> Queue:
    """The orders the filter lets through (newest first, at most 500) with their lines and totals per currency, as
    named columns (no ORM rows: the list is a hot path of the ERP API); `choices` also reads the site and supplier
    codes the page's filters offer."""
    po = PurchaseOrder
    query = _QUEUE
    if flt.status:
        query = query.where(po.status == flt.status)
    if flt.site:
        query = query.where(Site.code == flt.site)
    if flt.supplier:
        query = query.where(Supplier.code == flt.supplier)
    found = session.execute(query).all()
    lines = _lines_of(session, [row[0] for row in found])
    sites = tuple(session.scalars(select(Site.code).order_by(Site.code))) if choices else ()
    suppliers = tuple(session.scalars(select(Supplier.code).order_by(Supplier.code))) if choices else ()
    return assemble(found, lines, flt, sites, suppliers)


def assemble(found: Sequence[Sequence[Any]], lines: dict[int, list[QueueLine]], flt: QueueFilter,
             sites: tuple[str, ...] = (), suppliers: tuple[str, ...] = ()) -> Queue:  # fmt: skip
    """The queue from its orders (the columns of `_QUEUE`) and their lines by order id."""
    rows: list[QueueRow] = []
    totals: defaultdict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for po_id, po_number, status, supplier, site, currency, tax_rate, requester, origin, created_at, warnings in found:
        po_lines = tuple(lines.get(po_id, ()))
        total = totals_for(sum((ln.unit_price * ln.quantity for ln in po_lines), Decimal("0")), tax_rate).total
        if flt.min_total is not None and total < flt.min_total:
            continue
        totals[currency] += total
        rows.append(
            QueueRow(po_number, POStatus(status), supplier, site, currency, total, who(requester), origin, created_at,
                     current_warnings(status, warnings), po_lines)
        )  # fmt: skip
    return Queue(tuple(rows), tuple(sorted(totals.items())), sites, suppliers)


def current_warnings(status: str, warnings: str) -> tuple[str, ...]:
    """The order's warnings that still matter: why it was not auto-approved stops mattering once it is decided."""
    decided = status not in (PENDING, "draft")
    kept = [n for n in notes.read(warnings) if not (decided and n.english().startswith("auto-approval not"))]
    return tuple(n.shown() for n in kept)


def _lines_of(session: Session, po_ids: list[int]) -> dict[int, list[QueueLine]]:
    out: dict[int, list[QueueLine]] = defaultdict(list)
    if not po_ids:
        return out
    rows = session.execute(_LINES, {"po_ids": po_ids}).all()
    for po_id, line_number, sku, quantity, unit_price, reason in rows:
        out[po_id].append(QueueLine(line_number, sku, quantity, unit_price, reason))
    return out


@dataclass(frozen=True, slots=True)
class HistoryRow:
    at: datetime
    actor: str  # as recorded: "user:alice", "system:replenish"
    action: str
    comment: str
    sentence: str  # "Approved by alice (waiting for approval → approved): fine"


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    level: int
    actor: str
    decision: str
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PoDetail:
    po_number: str
    status: POStatus
    origin: str
    requester: str
    last_editor: str
    warnings: tuple[str, ...]
    approval_levels: str
    history: tuple[HistoryRow, ...]
    approvals: tuple[ApprovalRow, ...]
    reasons: dict[int, str]
    cost_center: str
    budget: approval.BudgetStatus | None
    next_approval: approval.NextApproval | None
    ordered: str  # "by phone" for an order placed outside vendtrack's e-mail (in the reader's language)
    ordered_at: datetime | None = None  # when it was placed so (the page formats it per locale)


def detail(session: Session, po_number: str, clock: Clock) -> PoDetail:
    po = get_po(session, po_number)
    history = tuple(
        HistoryRow(r.at, r.actor, r.action, r.comment, sentence(r.actor, r.action, r.before, r.after, r.comment))
        for r in audit.history(session, "purchase_order", po_number)
    )
    approvals = [
        ApprovalRow(a.level, who(a.actor), a.decision, a.comment, a.at)
        for a in session.scalars(select(Approval).where(Approval.po_id == po.id).order_by(Approval.id))
    ]
    if po.approved_by == approval.AUTO_APPROVER and po.approved_at is not None:
        approvals.append(ApprovalRow(0, who(po.approved_by), "approved",
                                     gettext("system order within the site's policy"), po.approved_at))  # fmt: skip
    reasons = dict(
        session.execute(
            select(PurchaseOrderLine.line_number, PurchaseOrderLine.reason).where(PurchaseOrderLine.po_id == po.id)
        ).all()
    )
    total = po_totals(session, po).total
    ordered = ""
    if po.ordered_via:
        ordered = str(ORDER_CHANNELS.get(po.ordered_via, po.ordered_via))
    return PoDetail(
        po.po_number, POStatus(po.status), po.origin, who(po.requester), who(po.last_editor),
        current_warnings(po.status, po.warnings), po.approval_levels, history,
        tuple(approvals), {int(k): str(v) for k, v in reasons.items()},
        approval.cost_center_label(session, po.cost_center_id), approval.budget_status(session, po, total, clock),
        approval.next_approval(session, po), ordered, po.ordered_at if po.ordered_via else None,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SupplierRow:
    id: int
    code: str
    name: str
    email: str
    currency: str
    payment_terms: str
    item_count: int
    language: str = ""  # of its documents ("" = English)


def suppliers(session: Session) -> list[SupplierRow]:
    counts = dict(
        session.execute(select(SupplierItem.supplier_id, func.count()).group_by(SupplierItem.supplier_id)).all()
    )
    return [
        SupplierRow(s.id, s.code, s.name, s.email, s.currency, s.payment_terms, int(counts.get(s.id, 0)), s.language)
        for s in session.scalars(select(Supplier).order_by(Supplier.code))
    ]


@dataclass(frozen=True, slots=True)
class SupplierItemRow:
    sku: str
    supplier_part_number: str
    description: str
    pack_qty: int
    moq: int
    order_multiple: int
    lead_time_days: int
    priority: int
    valid: str
    breaks: str


def supplier_items(session: Session, supplier_id: int) -> list[SupplierItemRow]:
    rows = session.execute(
        select(SupplierItem, Item.sku)
        .join(Item, Item.id == SupplierItem.item_id)
        .where(SupplierItem.supplier_id == supplier_id)
        .order_by(Item.sku)
    ).all()
    breaks: dict[int, list[str]] = defaultdict(list)
    for si_id, qty, price in session.execute(
        select(PriceBreak.supplier_item_id, PriceBreak.min_qty, PriceBreak.unit_price).order_by(PriceBreak.min_qty)
    ):
        breaks[si_id].append(f"{qty}+ @ {price:.2f}")
    return [
        SupplierItemRow(sku, si.supplier_part_number, si.description, si.pack_qty, si.moq, si.order_multiple,
                        si.lead_time_days, si.priority, f"{si.valid_from or '…'} – {si.valid_to or '…'}",
                        ", ".join(breaks.get(si.id, [])))
        for si, sku in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class BudgetRow:
    cost_center: str
    period: str
    amount: Decimal
    committed: Decimal
    mode: str


def budgets(session: Session) -> list[BudgetRow]:
    rows = session.execute(
        select(Budget, CostCenter.code)
        .join(CostCenter, CostCenter.id == Budget.cost_center_id)
        .order_by(Budget.period.desc(), CostCenter.code)
    ).all()
    return [
        BudgetRow(code, b.period, b.amount, committed_spend(session, b.cost_center_id, b.period), b.mode)
        for b, code in rows
    ]


@dataclass(frozen=True, slots=True)
class ReviewRow:
    site: str
    category: str
    review: bool


def review_switches(session: Session) -> list[ReviewRow]:
    rows = session.execute(
        select(Site.code, ReviewSwitch.category, ReviewSwitch.review)
        .join(Site, Site.id == ReviewSwitch.site_id)
        .order_by(Site.code, ReviewSwitch.category)
    ).all()
    return [ReviewRow(s, c, bool(r)) for s, c, r in rows]


@dataclass(frozen=True, slots=True)
class PolicyRow:
    sku: str
    site: str
    kind: str
    summary: str
    on_hand: int | None
    cost_center: str


def policies(session: Session, limit: int = 500) -> list[PolicyRow]:
    p = ReorderPolicy
    rows = session.execute(
        select(p, Item.sku, Site.code, StockView.on_hand, CostCenter.code)
        .join(Item, Item.id == p.item_id)
        .join(Site, Site.id == p.site_id)
        .outerjoin(StockView, (StockView.item_id == p.item_id) & (StockView.site_id == p.site_id))
        .outerjoin(CostCenter, CostCenter.id == p.cost_center_id)
        .order_by(Item.sku, Site.code)
        .limit(limit)
    ).all()
    return [
        PolicyRow(sku, site, pol.kind, _policy_summary(pol), on_hand, cc or "") for pol, sku, site, on_hand, cc in rows
    ]


def _policy_summary(pol: Any) -> str:
    if pol.kind == "min_max":
        return gettext("min %(min_qty)s, max %(max_qty)s", min_qty=pol.min_qty, max_qty=pol.max_qty)
    if pol.kind == "reorder_level":
        return gettext("reorder at %(level)s, qty %(qty)s", level=pol.reorder_level, qty=pol.reorder_qty)
    return gettext(
        "last %(days)s days, service level %(level)s, cover %(cover)s days",
        days=pol.lookback_days,
        level=f"{pol.service_level:.0%}",
        cover=pol.cover_days,
    )


@dataclass(frozen=True, slots=True)
class RuleRow:
    name: str
    level: int
    min_amount: Decimal
    scope: str
    approver: str


def rules(session: Session) -> list[RuleRow]:
    out = []
    for r in session.scalars(select(ApprovalRule).where(ApprovalRule.active.is_(True)).order_by(ApprovalRule.level)):
        parts = (
            r.category and gettext("category %(category)s", category=r.category),
            r.cost_center_id and gettext("cost center #%(id)s", id=r.cost_center_id),
            r.site_id and gettext("site #%(id)s", id=r.site_id),
        )
        scope = ", ".join(x for x in parts if x) or gettext("all orders")
        approver = r.approver_user or gettext("role %(role)s", role=r.approver_role)
        out.append(RuleRow(r.name, r.level, r.min_amount, scope, approver))
    return out


@dataclass(frozen=True, slots=True)
class Spend:
    """Committed spend (approved totals) per supplier and per month, for the charts on the queue page."""

    currency: str
    by_supplier: tuple[tuple[str, Decimal], ...]  # largest first
    months: tuple[str, ...]  # YYYY-MM, oldest first
    by_month: dict[str, tuple[Decimal, ...]]  # supplier code → one value per month


def spend(session: Session, today: datetime, months: int = 6) -> list[Spend]:
    """The last `months` calendar months (this one included), one Spend per currency."""
    labels = []
    year, month = today.year, today.month
    for _ in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    labels.reverse()
    rows = session.execute(
        select(Supplier.code, PurchaseOrder.currency, PurchaseOrder.approved_total, PurchaseOrder.approved_at)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .where(
            PurchaseOrder.status.in_(COMMITTED_STATUSES),
            PurchaseOrder.approved_at >= datetime(int(labels[0][:4]), int(labels[0][5:]), 1, tzinfo=UTC),
        )
    ).all()
    per: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Decimal)))
    for code, currency, amount, at in rows:
        key = at.strftime("%Y-%m") if at is not None else ""
        if key in labels and amount is not None:
            per[currency][code][key] += Decimal(amount)
    found = []
    for currency, suppliers_ in sorted(per.items()):
        totals = sorted(((code, sum(m.values(), Decimal(0))) for code, m in suppliers_.items()), key=lambda r: -r[1])
        by_month = {code: tuple(m.get(label, Decimal(0)) for label in labels) for code, m in sorted(suppliers_.items())}
        found.append(Spend(currency, tuple(totals), tuple(labels), by_month))
    return found


def status_counts(session: Session) -> dict[str, int]:
    """How many orders are in each status (the queue's filter shows them)."""
    rows = session.execute(select(PurchaseOrder.status, func.count()).group_by(PurchaseOrder.status)).all()
    return {str(status): int(n) for status, n in rows}
