"""Order steps that run the approval rules: submit, line and supplier edits, submitting system drafts.

They sit above both `procurement.orders` (status changes, totals) and `procurement.approval` (levels,
budgets, auto-approval), so neither of those imports the other's callers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, NotFound
from core.note_values import Number
from core.notes import N_, Note
from procurement.approval import check_reapproval, on_submitted, required_levels
from procurement.models import DraftSlot, PurchaseOrder, PurchaseOrderLine, Supplier
from procurement.orders import (
    DRAFT,
    EDITABLE_STATUSES,
    PENDING,
    SYSTEM_ACTOR,
    get_po,
    po_totals,
    site_settings,
    transition,
)
from procurement.po_states import status_words


def edit_line(
    session: Session, po_number: str, line_number: int, quantity: int, unit_price: Decimal, actor: str, clock: Clock
) -> None:
    """Change quantity/price of a line; on an approved PO a rise above the site's limit needs approval again."""
    po = get_po(session, po_number, lock=True)
    if po.status not in EDITABLE_STATUSES:
        raise Conflict(
            lazy_gettext(
                "%(po_number)s is %(status)s: only draft, pending or approved orders can be edited",
                po_number=po_number,
                status=status_words(po.status),
            )
        )
    if quantity < 1:
        raise DomainError(lazy_gettext("quantity %(quantity)s must be at least 1", quantity=quantity), field="quantity")
    line = session.scalar(
        select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id, PurchaseOrderLine.line_number == line_number)
    )
    if line is None:
        raise NotFound(
            lazy_gettext("%(po_number)s has no line %(line_number)s", po_number=po_number, line_number=line_number),
            field="line_number",
        )
    before = {"quantity": line.quantity, "unit_price": line.unit_price}
    line.quantity, line.unit_price = quantity, unit_price
    po.last_editor, po.updated_at = actor, clock.now()
    session.flush()
    audit.record(
        session, actor, "po.edit_line", "purchase_order", po_number, before=before,
        after={"line": line_number, "quantity": quantity, "unit_price": unit_price}, clock=clock,
    )  # fmt: skip
    _restart_pending(session, po)
    check_reapproval(session, po, actor, clock)


def _restart_pending(session: Session, po: PurchaseOrder) -> None:
    """An edit while approval is under way voids the approvals given so far: a new round starts."""
    if po.status == PENDING:
        po.approval_round += 1
        po.approval_levels = ",".join(str(lv) for lv in required_levels(session, po, po_totals(session, po).total))


def change_supplier(session: Session, po_number: str, supplier_code: str, actor: str, clock: Clock) -> None:
    po = get_po(session, po_number, lock=True)
    if po.status not in EDITABLE_STATUSES:
        raise Conflict(
            lazy_gettext(
                "%(po_number)s is %(status)s: the supplier can no longer change",
                po_number=po_number,
                status=status_words(po.status),
            )
        )
    supplier = session.scalar(select(Supplier).where(Supplier.code == supplier_code))
    if supplier is None:
        raise NotFound(
            lazy_gettext("no supplier %(supplier_code)s", supplier_code=repr(supplier_code)), field="supplier_code"
        )
    before = po.supplier_id
    po.supplier_id, po.currency, po.last_editor, po.updated_at = supplier.id, supplier.currency, actor, clock.now()
    session.execute(delete(DraftSlot).where(DraftSlot.po_id == po.id))
    audit.record(
        session, actor, "po.change_supplier", "purchase_order", po_number, before={"supplier_id": before},
        after={"supplier_id": supplier.id}, clock=clock,
    )  # fmt: skip
    _restart_pending(session, po)
    check_reapproval(session, po, actor, clock)


def submit(session: Session, po_number: str, actor: str, clock: Clock) -> str:
    """Draft → pending approval, then the approval rules run (they may approve at once). Returns the status."""
    po = get_po(session, po_number, lock=True)
    if po.status == DRAFT and not session.scalar(
        select(func.count()).select_from(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id)
    ):
        raise Conflict(
            lazy_gettext("%(po_number)s has no lines: add a line before submitting", po_number=po_number), field="lines"
        )
    comment = ""
    if po.status == DRAFT:  # the site's tax rate now: a rate changed since the draft was made applies to it
        settings = site_settings(session, po.site_id)
        po.buyer_name = settings.buyer_name  # frozen: the documents of this order keep the name it was sent under
        rate = settings.tax_rate
        if rate != po.tax_rate:
            comment = Note.of(N_("tax rate %(old)s %% → %(new)s %% (the site's rate when submitted)"),
                              old=Number.of(po.tax_rate * 100, 2), new=Number.of(rate * 100, 2)).encode()  # fmt: skip
            po.tax_rate = rate
    transition(session, po, PENDING, actor, clock, comment=comment)
    on_submitted(session, po, clock)
    return po.status


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
