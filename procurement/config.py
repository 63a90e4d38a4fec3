"""Procurement configuration services: reorder policies, budgets, review switches, approval rules, site knobs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.models import CostCenter, Item, Site
from procurement.models import ApprovalRule, Budget, ReorderPolicy, ReviewSwitch
from procurement.policy import POLICY_KINDS, z_for
from procurement.stock import rebuild_stat


@dataclass(frozen=True, slots=True)
class PolicyData:
    sku: str
    site_code: str
    kind: str = "min_max"
    min_qty: int = 0
    max_qty: int = 0
    reorder_level: int = 0
    reorder_qty: int = 0
    lookback_days: int = 90
    service_level: Decimal = Decimal("0.95")
    cover_days: int = 14
    order_cost: Decimal | None = None
    holding_rate: Decimal | None = None
    cost_center: str | None = None


def site_id_of(session: Session, code: str) -> int:
    found = session.scalar(select(Site.id).where(Site.code == code))
    if found is None:
        raise NotFound(f"unknown site {code!r}", field="site")
    return found


def cost_center_id_of(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    found = session.scalar(select(CostCenter.id).where(CostCenter.code == code))
    if found is None:
        raise NotFound(f"unknown cost center {code!r}", field="cost_center")
    return found


def _validate(data: PolicyData) -> None:
    if data.kind not in POLICY_KINDS:
        raise DomainError(f"policy kind {data.kind!r} is unknown: use {', '.join(POLICY_KINDS)}", field="kind")
    if data.kind == "min_max" and not 0 <= data.min_qty <= data.max_qty:
        raise DomainError(f"min {data.min_qty} must be ≥ 0 and ≤ max {data.max_qty}", field="max_qty")
    if data.kind == "reorder_level" and data.reorder_qty < 1:
        raise DomainError("reorder quantity must be at least 1", field="reorder_qty")
    if data.lookback_days < 1:
        raise DomainError("look-back must be at least 1 day", field="lookback_days")
    try:
        z_for(float(data.service_level))
    except ValueError as exc:
        raise DomainError(str(exc), field="service_level") from None


def set_policy(session: Session, data: PolicyData, actor: str, clock: Clock) -> int:
    _validate(data)
    item_id = session.scalar(select(Item.id).where(Item.sku == data.sku))
    if item_id is None:
        raise NotFound(f"unknown SKU {data.sku!r}", field="sku")
    site_id = site_id_of(session, data.site_code)
    row = session.scalar(
        select(ReorderPolicy).where(ReorderPolicy.item_id == item_id, ReorderPolicy.site_id == site_id)
    )
    if row is None:
        row = ReorderPolicy(item_id=item_id, site_id=site_id)
        session.add(row)
    old_lookback = row.lookback_days
    for name in ("kind", "min_qty", "max_qty", "reorder_level", "reorder_qty", "lookback_days", "service_level",
                 "cover_days", "order_cost", "holding_rate"):  # fmt: skip
        setattr(row, name, getattr(data, name))
    row.cost_center_id = cost_center_id_of(session, data.cost_center)
    row.active = True
    session.flush()
    if data.kind == "auto_rop" and old_lookback != data.lookback_days:
        rebuild_stat(session, item_id, site_id, data.lookback_days, clock.now().date())
    audit.record(session, actor, "policy.save", "reorder_policy", row.id, after={"kind": data.kind}, clock=clock)
    return row.id


def set_budget(session: Session, cost_center: str, period: str, amount: Decimal, mode: str, actor: str) -> None:
    cc_id = cost_center_id_of(session, cost_center)
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
        raise DomainError(f"period {period!r} must look like 2026-01", field="period")
    if mode not in ("stop", "warn"):
        raise DomainError("mode must be stop or warn", field="mode")
    if amount < 0:
        raise DomainError("budget amount cannot be negative", field="amount")
    row = session.scalar(select(Budget).where(Budget.cost_center_id == cc_id, Budget.period == period))
    if row is None:
        row = Budget(cost_center_id=cc_id, period=period, amount=amount, mode=mode)
        session.add(row)
    row.amount, row.mode = amount, mode
    session.flush()
    audit.record(session, actor, "budget.save", "budget", row.id, after={"period": period, "amount": amount,
                                                                         "mode": mode})  # fmt: skip


def set_review(session: Session, site_code: str, category: str, review: bool, actor: str) -> None:
    """Switch review-before-order for one category at one site off (trusted) or back on."""
    if not category.strip():
        raise DomainError("category is required", field="category")
    site_id = site_id_of(session, site_code)
    row = session.scalar(select(ReviewSwitch).where(ReviewSwitch.site_id == site_id, ReviewSwitch.category == category))
    before = None if row is None else row.review
    if row is None:
        row = ReviewSwitch(site_id=site_id, category=category.strip(), review=review)
        session.add(row)
    row.review = review
    session.flush()
    audit.record(session, actor, "review.switch", "review_switch", f"{site_code}/{category}", before=before,
                 after=review)  # fmt: skip


def add_rule(
    session: Session, name: str, level: int, min_amount: Decimal, actor: str, approver_role: str | None = None,
    approver_user: str | None = None, category: str | None = None, cost_center: str | None = None,
    site_code: str | None = None,
) -> int:  # fmt: skip
    if not (approver_role or approver_user):
        raise DomainError("a rule needs an approver role or an approver user", field="approver_role")
    if level < 1:
        raise DomainError("level must be at least 1", field="level")
    rule = ApprovalRule(
        name=name, level=level, min_amount=min_amount, approver_role=approver_role, approver_user=approver_user,
        category=category or None, cost_center_id=cost_center_id_of(session, cost_center),
        site_id=site_id_of(session, site_code) if site_code else None, active=True,
    )  # fmt: skip
    session.add(rule)
    session.flush()
    audit.record(session, actor, "approval_rule.add", "approval_rule", rule.id, after={"name": name, "level": level})
    return rule.id
