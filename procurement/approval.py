"""Approval: rules in levels, auto-approval of system POs within policy, segregation of duties, budgets, re-approval."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import notes
from core.clock import Clock
from core.errors import Conflict, DomainError, Forbidden
from core.models import CostCenter, Item
from core.note_values import Money, Number
from core.notes import N_, Note
from procurement.models import (
    Approval,
    ApprovalRule,
    Budget,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPolicy,
    ReviewSwitch,
    SupplierItem,
)
from procurement.orders import (
    APPROVED,
    COMMITTED_STATUSES,
    PENDING,
    REJECTED,
    POStatus,
    get_po,
    po_totals,
    site_settings,
    transition,
)

AUTO_APPROVER = "system:auto-approve"
AUTO_APPROVAL_NOT_APPLIED = N_("auto-approval not applied: %(reason)s")  # its reason stops mattering once decided
DEFAULT_ROLE = "approver"


@dataclass(frozen=True, slots=True)
class Approver:
    """Who is approving: the audit actor ("user:alice"), the username and the roles they hold."""

    actor: str
    username: str
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    ok: bool
    stop: bool
    note: Note | None  # why the order is over budget; None when it is not

    @property
    def message(self) -> str:
        """The reason in the current request's language (English outside one)."""
        return self.note.shown() if self.note is not None else ""


def po_categories(session: Session, po: PurchaseOrder) -> set[str]:
    return set(
        session.scalars(
            select(Item.category)
            .join(PurchaseOrderLine, PurchaseOrderLine.item_id == Item.id)
            .where(PurchaseOrderLine.po_id == po.id)
        )
    )


def matching_rules(session: Session, po: PurchaseOrder, total: Decimal) -> list[ApprovalRule]:
    cats = po_categories(session, po)
    rules = session.scalars(select(ApprovalRule).where(ApprovalRule.active.is_(True)).order_by(ApprovalRule.level))
    return [
        r
        for r in rules
        if total >= r.min_amount
        and (r.category is None or r.category in cats)
        and (r.cost_center_id is None or r.cost_center_id == po.cost_center_id)
        and (r.site_id is None or r.site_id == po.site_id)
    ]


def required_levels(session: Session, po: PurchaseOrder, total: Decimal) -> list[int]:
    return sorted({r.level for r in matching_rules(session, po, total)}) or [1]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """The budget an order draws on, as the approver needs to see it (amounts in the budget's terms)."""

    cost_center: str  # "CC-100 Maintenance"
    period: str
    amount: Decimal
    committed: Decimal  # approved spend of the cost center this period, this order left out
    this_order: Decimal
    mode: str

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.committed

    @property
    def remaining_after(self) -> Decimal:
        return self.amount - self.committed - self.this_order

    @property
    def name(self) -> str:
        return f"{self.cost_center} {self.period}"


def cost_center_label(session: Session, cost_center_id: int | None) -> str:
    if cost_center_id is None:
        return ""
    row = session.execute(select(CostCenter.code, CostCenter.name).where(CostCenter.id == cost_center_id)).first()
    return f"{row.code} {row.name}".strip() if row else f"cost center #{cost_center_id}"


def budget_status(session: Session, po: PurchaseOrder, total: Decimal, clock: Clock) -> BudgetStatus | None:
    """The budget of the PO's cost center this month with what is committed, or None when there is none."""
    if po.cost_center_id is None:
        return None
    period = clock.now().strftime("%Y-%m")
    budget = session.scalar(select(Budget).where(Budget.cost_center_id == po.cost_center_id, Budget.period == period))
    if budget is None:
        return None
    committed = committed_spend(session, po.cost_center_id, period, exclude_po=po.id)
    label = cost_center_label(session, po.cost_center_id)
    return BudgetStatus(label, period, budget.amount, committed, total, budget.mode)


def budget_check(session: Session, po: PurchaseOrder, total: Decimal, clock: Clock) -> BudgetCheck:
    """Committed spend of the PO's cost center this month plus this PO against the budget, if there is one."""
    status = budget_status(session, po, total, clock)
    if status is None or status.remaining_after >= 0:
        return BudgetCheck(True, False, None)
    note = Note.of(
        N_("budget %(budget)s: committed %(committed)s + this order %(total)s exceeds %(amount)s"),
        budget=status.name, committed=Money(status.committed, po.currency), total=Money(total, po.currency),
        amount=Money(status.amount, po.currency),
    )  # fmt: skip
    return BudgetCheck(False, status.mode == "stop", note)


def committed_spend(session: Session, cost_center_id: int, period: str, exclude_po: int | None = None) -> Decimal:
    rows = session.execute(
        select(PurchaseOrder.id, PurchaseOrder.approved_total, PurchaseOrder.approved_at).where(
            PurchaseOrder.cost_center_id == cost_center_id, PurchaseOrder.status.in_(COMMITTED_STATUSES)
        )
    ).all()
    return sum(
        (Decimal(t or 0) for pid, t, at in rows if pid != exclude_po and at and at.strftime("%Y-%m") == period),
        Decimal("0"),
    )


def auto_approval_blocker(session: Session, po: PurchaseOrder, total: Decimal) -> Note | None:
    """Why a system PO cannot be auto-approved (str() gives the English words); None when it may be."""
    if po.origin != "system":
        return Note.of(N_("only system-generated orders are auto-approved"))
    settings = site_settings(session, po.site_id)
    if total >= settings.auto_approve_limit:
        return Note.of(N_("total %(total)s is not under the auto-approval limit %(limit)s"),
                       total=Money(total, po.currency),
                       limit=Money(settings.auto_approve_limit, po.currency))  # fmt: skip
    switches = {
        s.category: s.review for s in session.scalars(select(ReviewSwitch).where(ReviewSwitch.site_id == po.site_id))
    }
    for category in sorted(po_categories(session, po)):
        if switches.get(category, True):
            return Note.of(N_("review before order is on for %(category)s"), category=category)
    tolerance = settings.price_tolerance_pct / Decimal(100)
    rows = session.execute(
        select(PurchaseOrderLine, SupplierItem.last_price, ReorderPolicy.max_qty, ReorderPolicy.kind)
        .outerjoin(SupplierItem, SupplierItem.id == PurchaseOrderLine.supplier_item_id)
        .outerjoin(
            ReorderPolicy,
            (ReorderPolicy.item_id == PurchaseOrderLine.item_id) & (ReorderPolicy.site_id == po.site_id),
        )
        .where(PurchaseOrderLine.po_id == po.id)
    ).all()
    for line, last_price, max_qty, kind in rows:
        if kind == "min_max" and max_qty and line.quantity > max_qty:
            return Note.of(N_("line %(line)s: quantity %(quantity)s is above max %(max)s"),
                           line=str(line.line_number), quantity=str(line.quantity), max=str(max_qty))  # fmt: skip
        if last_price is None:
            return Note.of(N_("line %(line)s: no previous price to compare with"), line=str(line.line_number))
        if line.unit_price > last_price * (1 + tolerance):
            return Note.of(N_("line %(line)s: price %(price)s is over last price %(last_price)s + %(tolerance)s"),
                           line=str(line.line_number), price=Money(line.unit_price, po.currency),
                           last_price=Money(last_price, po.currency),
                           tolerance=f"{tolerance:.0%}")  # fmt: skip
    return None


def on_submitted(session: Session, po: PurchaseOrder, clock: Clock) -> None:
    """Work out the levels; stop on a hard budget; auto-approve a system PO that is within policy."""
    total = po_totals(session, po).total
    po.approval_round += 1
    po.approval_levels = ",".join(str(level) for level in required_levels(session, po, total))
    budget = budget_check(session, po, total, clock)
    if budget.stop:
        raise Conflict(lazy_gettext(
                "%(po_number)s cannot be submitted: %(message)s (budget mode stop)",
                po_number=po.po_number,
                message=budget.message,
            ), field="budget")
    if not budget.ok:
        _warn(po, budget.note)
    blocker = auto_approval_blocker(session, po, total)
    if blocker is None:
        _finish_approval(session, po, AUTO_APPROVER, clock, "auto-approved: system order within policy")
    elif po.origin == "system":
        _warn(po, Note.of(AUTO_APPROVAL_NOT_APPLIED, reason=blocker))


def _warn(po: PurchaseOrder, note: Note | None) -> None:
    if note is not None:
        po.warnings = notes.add(po.warnings, note)


def approve(session: Session, po_number: str, who: Approver, clock: Clock, comment: str = "") -> str:
    """Record one level's approval; the last level approves the PO. Returns the PO status."""
    po = get_po(session, po_number, lock=True)
    if po.status != PENDING:
        raise Conflict(lazy_gettext("%(po)s is %(status)s, not waiting for approval", po=po_number,
                                    status=_status_label(po.status)), field="status")  # fmt: skip
    total = po_totals(session, po).total
    level, refusal = _approval_step(session, po, total, who)
    if refusal is not None:
        raise Forbidden(refusal, field="approver")
    session.add(Approval(po_id=po.id, level=level, actor=who.actor, decision="approved", comment=comment,
                         round=po.approval_round, at=clock.now()))  # fmt: skip
    done = _approvals(session, po)
    if all(lv in done or lv == level for lv in _levels(po)):
        _finish_approval(session, po, who.actor, clock, comment)
    session.flush()
    return po.status


def _status_label(status: str) -> str:
    """A PO status in the reader's language ("Pending approval"), for refusals."""
    return lazy_gettext(POStatus(status).label)


def _levels(po: PurchaseOrder) -> list[int]:
    return [int(x) for x in po.approval_levels.split(",") if x] or [1]


def _approval_step(session: Session, po: PurchaseOrder, total: Decimal, who: Approver) -> tuple[int, str | None]:
    """The level `who` would approve now, and why they may not (None when they may): the page asks the same."""
    levels, done = _levels(po), _approvals(session, po)
    level = next(lv for lv in levels if lv not in done) if len(done) < len(levels) else levels[-1]
    if who.actor == po.requester:
        return level, lazy_gettext("you requested %(po)s, so someone else must approve it", po=po.po_number)
    if who.actor == po.last_editor:
        return level, lazy_gettext("you last edited %(po)s, so someone else must approve it", po=po.po_number)
    if who.actor in done.values():
        return level, lazy_gettext("you already approved %(po)s at another level; a second person must",
                                   po=po.po_number)  # fmt: skip
    if not _may_approve(session, po, total, level, who):
        return level, lazy_gettext("level %(level)s of %(po)s needs %(who)s", level=level, po=po.po_number,
                                   who=approver_of(session, po, total, level))  # fmt: skip
    return level, None


def approval_refusal(session: Session, po: PurchaseOrder, who: Approver) -> str | None:
    """Why `who` cannot approve `po` now (not pending, their own order, wrong role), or None when they can."""
    if po.status != PENDING:
        return lazy_gettext("%(po)s is not waiting for approval", po=po.po_number)
    return _approval_step(session, po, po_totals(session, po).total, who)[1]


def reject_refusal(session: Session, po: PurchaseOrder, who: Approver) -> str | None:
    """Why `who` cannot reject `po`: approvers and admins may, and anyone an approval rule lets approve it now."""
    if po.status != PENDING:
        return lazy_gettext("%(po)s is not waiting for approval", po=po.po_number)
    if who.actor == po.requester:
        return lazy_gettext("you requested %(po)s; withdraw it with cancel instead", po=po.po_number)
    if {"approver", "admin"} & who.roles or approval_refusal(session, po, who) is None:
        return None
    return lazy_gettext("only an approver, an admin or the approver a rule names rejects orders")


def approver_of(session: Session, po: PurchaseOrder, total: Decimal, level: int) -> str:
    """Who may approve `level` of `po`, in words: 'a user with role approver', 'user alice'."""
    rules = [r for r in matching_rules(session, po, total) if r.level == level]
    names = sorted({str(lazy_gettext("user %(name)s", name=r.approver_user)) for r in rules if r.approver_user}
                   | {str(lazy_gettext("a user with role %(role)s", role=r.approver_role))
                      for r in rules if r.approver_role})  # fmt: skip
    if not names:
        return str(lazy_gettext("a user with role %(role)s", role=DEFAULT_ROLE))
    return str(lazy_gettext(" or ")).join(names)


@dataclass(frozen=True, slots=True)
class NextApproval:
    level: int
    of_levels: int
    who: str


def next_approval(session: Session, po: PurchaseOrder) -> NextApproval | None:
    """The level still open on a pending PO and who may approve it; None when nothing is waiting."""
    if po.status != PENDING:
        return None
    levels, done = _levels(po), _approvals(session, po)
    open_levels = [lv for lv in levels if lv not in done]
    if not open_levels:
        return None
    total = po_totals(session, po).total
    return NextApproval(open_levels[0], len(levels), approver_of(session, po, total, open_levels[0]))


def _approvals(session: Session, po: PurchaseOrder) -> dict[int, str]:
    rows = session.execute(
        select(Approval.level, Approval.actor).where(
            Approval.po_id == po.id, Approval.round == po.approval_round, Approval.decision == "approved"
        )
    ).all()
    return {level: actor for level, actor in rows}


def _may_approve(session: Session, po: PurchaseOrder, total: Decimal, level: int, who: Approver) -> bool:
    if "admin" in who.roles:
        return True
    rules = [r for r in matching_rules(session, po, total) if r.level == level]
    if not rules:
        return DEFAULT_ROLE in who.roles
    for rule in rules:
        if rule.approver_user and rule.approver_user == who.username:
            return True
        if rule.approver_role and rule.approver_role in who.roles:
            return True
    return False


def _finish_approval(session: Session, po: PurchaseOrder, actor: str, clock: Clock, comment: str) -> None:
    total = po_totals(session, po).total
    budget = budget_check(session, po, total, clock)
    if budget.stop:
        raise Conflict(lazy_gettext(
                "%(po_number)s cannot be approved: %(message)s (budget mode stop)",
                po_number=po.po_number,
                message=budget.message,
            ), field="budget")
    if not budget.ok:
        _warn(po, budget.note)
    transition(session, po, APPROVED, actor, clock, comment=comment)
    po.approved_by, po.approved_at = actor, clock.now()
    po.approved_total, po.approved_supplier_id = total, po.supplier_id
    for line in session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id)):
        if line.supplier_item_id is not None:
            si = session.get(SupplierItem, line.supplier_item_id)
            if si is not None:
                si.last_price = line.unit_price


def reject(session: Session, po_number: str, who: Approver, clock: Clock, comment: str) -> None:
    if not comment.strip():
        raise DomainError(lazy_gettext("say why the order is rejected, so the buyer can fix it"), field="comment")
    po = get_po(session, po_number, lock=True)
    if po.status == PENDING and (refusal := reject_refusal(session, po, who)) is not None:
        raise Forbidden(refusal, field="approver")
    transition(session, po, REJECTED, who.actor, clock, comment=comment)
    session.add(Approval(po_id=po.id, level=0, actor=who.actor, decision="rejected", comment=comment,
                         round=po.approval_round, at=clock.now()))  # fmt: skip


def check_reapproval(session: Session, po: PurchaseOrder, actor: str, clock: Clock) -> bool:
    """After an edit of an approved PO: a total rise over the site's limit or a new supplier needs approval again."""
    if po.status != APPROVED or po.approved_total is None:
        return False
    total = po_totals(session, po).total
    limit = site_settings(session, po.site_id).reapproval_rise_pct
    rise_pct = (total - po.approved_total) / po.approved_total * 100 if po.approved_total else Decimal(100)
    reason = None
    if po.supplier_id != po.approved_supplier_id:
        reason = Note.of(N_("supplier changed after approval"))
    elif rise_pct > limit:
        reason = Note.of(N_("total rose %(rise)s %% after approval (limit %(limit)s %%)"),
                         rise=Number.of(rise_pct, 1), limit=str(limit))  # fmt: skip
    if reason is None:
        return False
    transition(session, po, PENDING, actor, clock, comment=reason.encode())  # a stored note: the history shows it
    po.approval_round += 1
    po.approval_levels = ",".join(str(level) for level in required_levels(session, po, total))
    _warn(po, Note.of(N_("re-approval needed: %(reason)s"), reason=reason))
    return True


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PurchaseOrder).where(PurchaseOrder.status == PENDING)) or 0


__all__ = ["REJECTED", "Approver", "approve", "check_reapproval", "on_submitted", "reject"]
