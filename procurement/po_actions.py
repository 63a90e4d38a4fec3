"""What a person may do to a purchase order now: the one answer the PO page's buttons and the POST views share.

An action is offered when (1) the status table has it from the order's current status, (2) the caller holds
one of the action's roles, and (3) the action's own guard (approval rules, segregation of duties, lines to
submit) lets them. The views check the same `refusal()` before calling the service, so a button the page
shows never answers 403, and a request the page would not offer gets the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, Forbidden
from core.roles import Role
from procurement import approval
from procurement.models import PurchaseOrder, PurchaseOrderLine
from procurement.orders import EDITABLE_STATUSES, PO_STATES, POStatus
from procurement.po_states import status_words

BUYERS = frozenset({Role.PROCUREMENT, Role.ADMIN})
DECIDERS = frozenset({Role.APPROVER, Role.PROCUREMENT, Role.ADMIN})  # approval rules may name any role

# page action → the roles that may take it (the view's access declaration uses the same set)
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "submit": BUYERS,
    "approve": DECIDERS,
    "reject": DECIDERS,
    "revise": BUYERS,
    "cancel": BUYERS,
    "send": BUYERS,
    "mark_ordered": BUYERS,
    "receive": BUYERS,
    "close_short": BUYERS,
    "close": BUYERS,
    "edit_line": BUYERS,  # not a transition: allowed while the order is editable
}
ROLE_NAMES = {
    BUYERS: lazy_gettext("a buyer (procurement) or an admin"),
    DECIDERS: lazy_gettext("an approver"),
}
ACTION_NAMES = {  # the action as a refusal names it
    "submit": lazy_gettext("submit"),
    "approve": lazy_gettext("approve"),
    "reject": lazy_gettext("reject"),
    "revise": lazy_gettext("revise"),
    "cancel": lazy_gettext("cancel"),
    "send": lazy_gettext("send"),
    "mark_ordered": lazy_gettext("mark ordered"),
    "receive": lazy_gettext("receive"),
    "close_short": lazy_gettext("close short"),
    "close": lazy_gettext("close"),
    "edit_line": lazy_gettext("edit line"),
}


@dataclass(frozen=True, slots=True)
class Caller:
    actor: str  # "user:alice"
    username: str
    roles: frozenset[str]

    def approver(self) -> approval.Approver:
        return approval.Approver(self.actor, self.username, self.roles)


def roles_for(action: str) -> tuple[Role, ...]:
    return tuple(sorted(ACTION_ROLES[action]))


def state_allows(status: str, action: str) -> bool:
    """Whether the status table has `action` from `status` (edit_line: while the order is editable)."""
    if action == "edit_line":
        return status in EDITABLE_STATUSES
    return action in PO_STATES.transitions.get(POStatus(status), {}).values()


def refusal(session: Session, po: PurchaseOrder, caller: Caller, action: str) -> str | None:
    """Why `caller` may not take `action` on `po` now, in words; None when they may."""
    named = ACTION_NAMES.get(action) or action.replace("_", " ")
    if not state_allows(po.status, action):
        return lazy_gettext("%(po)s is %(status)s: %(action)s is not possible now", po=po.po_number,
                            status=status_words(po.status), action=named)  # fmt: skip
    if not ({str(r) for r in ACTION_ROLES[action]} & caller.roles):
        return lazy_gettext("only %(who)s may %(action)s", action=named,
                            who=ROLE_NAMES.get(ACTION_ROLES[action]) or lazy_gettext("another role"))  # fmt: skip
    if action == "approve":
        return approval.approval_refusal(session, po, caller.approver())
    if action == "reject":
        return approval.reject_refusal(session, po, caller.approver())
    if action == "submit" and not _has_lines(session, po):
        return lazy_gettext("%(po)s has no lines: add a line before submitting", po=po.po_number)
    return None


def require(session: Session, po: PurchaseOrder, caller: Caller, action: str) -> None:
    """The views' guard: the same answer as the page, raised (403 for who you are, 409 for the order's state)."""
    reason = refusal(session, po, caller, action)
    if reason is None:
        return
    if not state_allows(po.status, action):
        raise Conflict(reason, field="status")
    raise Forbidden(reason, field="action")


def available(session: Session, po: PurchaseOrder, caller: Caller) -> frozenset[str]:
    """Every action the page should offer `caller` on `po`."""
    return frozenset(action for action in ACTION_ROLES if refusal(session, po, caller, action) is None)


def _has_lines(session: Session, po: PurchaseOrder) -> bool:
    count = session.scalar(
        select(func.count()).select_from(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id)
    )
    return bool(count)
