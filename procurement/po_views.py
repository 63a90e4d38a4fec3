"""The purchase order page and its actions: buttons from `po_actions`, the same guard on every POST.

A refused action (over-receipt, a missing reason, a number that is not one) renders the PO page again with the
message beside the form, the typed values kept and the field marked, instead of a dead-end error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _

from core import access
from core.errors import DomainError
from core.note_values import Moment
from core.validation import Int, one
from procurement import approval, orders, pdf, po_actions, queries, receiving, scan_receiving, transmit, workflow
from procurement.document_language import words_for
from procurement.documents import build_context
from procurement.po_actions import roles_for
from procurement.supplier_profiles import cxml_identities
from procurement.views import READERS, _db, _decimal, _services, bp


def _caller() -> po_actions.Caller:
    p = g.principal
    return po_actions.Caller(str(p.actor), str(p.name), frozenset(str(r) for r in p.roles))


def _page(po_number: str, status: int = 200, error: DomainError | None = None, action: str = "") -> Any:
    session = _db()
    ctx = build_context(session, po_number)
    info = queries.detail(session, po_number, _services().clock)
    po = orders.get_po(session, po_number)
    sends = transmit.transmissions(session, po.id, transmit.RetryPolicy.from_settings(_services().settings))
    form = {
        "action": action, "values": request.form if error is not None else {},
        "message": str(error.message) if error is not None else "", "field": error.field if error is not None else "",
    }  # fmt: skip
    return render_template(
        "procurement/po.html", ctx=ctx, info=info, sends=sends,
        statement=pdf.approval_statement(ctx, words_for(str(get_locale() or "en"))),
        actions=po_actions.available(session, po, _caller()), channels=orders.ORDER_CHANNELS, form=form,
        balances={b.line_number: b for b in receiving.balances(session, po.id)},
        cxml_missing=cxml_identities(session, ctx.supplier_id).missing(),
    ), status  # fmt: skip


@bp.get("/po/<po_number>")
@access.roles(*READERS)
def po_view(po_number: str) -> Any:
    return _page(po_number)


def _act(po_number: str, action: str, run: Callable[[], str], form_id: str = "") -> Any:
    """Guard with the page's own rule, run the service, commit and go back to the page with what happened.

    A refusal renders the page again (status 403/409/422) with the message at the form and the values kept."""
    session = _db()
    try:
        po_actions.require(session, orders.get_po(session, po_number), _caller(), action)
        message = run()
    except DomainError as exc:
        session.rollback()
        return _page(po_number, 422 if exc.status == 400 else exc.status, exc, form_id or action)
    session.commit()
    flash(message, "ok")
    return redirect(url_for("procurement.po_view", po_number=po_number))


def _label(status: str) -> str:
    """A PO status as the sentence reads it, in the page's language ("pending approval")."""
    label = str(_(orders.POStatus(status).label))
    return label.lower() if str(get_locale() or "en") == "en" else label  # German nouns keep their capital


def _approver() -> approval.Approver:
    return _caller().approver()


@bp.post("/po/<po_number>/submit")
@access.roles(*roles_for("submit"))
def po_submit(po_number: str) -> Any:
    def run() -> str:
        status = workflow.submit(_db(), po_number, str(g.principal.actor), _services().clock)
        return _("%(po)s submitted: now %(status)s", po=po_number, status=_label(status))

    return _act(po_number, "submit", run)


@bp.post("/po/<po_number>/approve")
@access.roles(*roles_for("approve"))
def po_approve(po_number: str) -> Any:
    def run() -> str:
        status = approval.approve(_db(), po_number, _approver(), _services().clock, request.form.get("comment", ""))
        return _("%(po)s: your approval is recorded; now %(status)s", po=po_number, status=_label(status))

    return _act(po_number, "approve", run)


@bp.post("/po/<po_number>/reject")
@access.roles(*roles_for("reject"))
def po_reject(po_number: str) -> Any:
    def run() -> str:
        approval.reject(_db(), po_number, _approver(), _services().clock, request.form.get("comment", ""))
        return _("%(po)s rejected", po=po_number)

    return _act(po_number, "reject", run)


@bp.post("/po/<po_number>/revise")
@access.roles(*roles_for("revise"))
def po_revise(po_number: str) -> Any:
    def run() -> str:
        orders.revise(_db(), po_number, str(g.principal.actor), _services().clock)
        return _("%(po)s is a draft again", po=po_number)

    return _act(po_number, "revise", run)


@bp.post("/po/<po_number>/cancel")
@access.roles(*roles_for("cancel"))
def po_cancel(po_number: str) -> Any:
    def run() -> str:
        orders.cancel(_db(), po_number, str(g.principal.actor), _services().clock, request.form.get("reason", ""))
        return _("%(po)s cancelled", po=po_number)

    return _act(po_number, "cancel", run)


@bp.post("/po/<po_number>/mark-ordered")
@access.roles(*roles_for("mark_ordered"))
def po_mark_ordered(po_number: str) -> Any:
    def run() -> str:
        channel = request.form.get("channel", "")
        orders.mark_ordered(_db(), po_number, channel, request.form.get("reference", ""), str(g.principal.actor),
                            _services().clock)  # fmt: skip
        return _("%(po)s marked as ordered %(channel)s: goods can be received against it", po=po_number,
                 channel=orders.ORDER_CHANNELS[channel])  # fmt: skip

    return _act(po_number, "mark_ordered", run)


@bp.post("/po/<po_number>/send")
@access.roles(*roles_for("send"))
def po_send(po_number: str) -> Any:
    """Send now (also "send again" for a queued or failed transmission); send runs its own transactions."""
    services = _services()
    session = _db()
    try:
        po_actions.require(session, orders.get_po(session, po_number), _caller(), "send")
    except DomainError as exc:
        session.rollback()
        return _page(po_number, exc.status, exc, "send")
    session.commit()  # end the request's transaction first: on SQLite it holds the write lock send needs
    smtp, policy = (
        transmit.SmtpConfig.from_settings(services.settings),
        transmit.RetryPolicy.from_settings(services.settings),
    )
    result = transmit.send(services.session_factory, po_number, smtp, str(g.principal.actor), services.clock, policy)
    if result.status == transmit.SENT:
        flash(_("%(po)s e-mailed (sha256 %(digest)s…)", po=po_number, digest=result.sha256[:12]), "ok")
    elif result.status == transmit.QUEUED and result.next_attempt_at is not None:
        flash(_("%(po)s not delivered (attempt %(attempt)s): %(error)s; it is tried again automatically at %(at)s. "
                "If you order by phone or in the supplier's portal instead, mark it as ordered.",
                po=po_number, attempt=result.attempts, error=result.error,
                at=Moment(result.next_attempt_at).shown()),
              "error")  # fmt: skip
    elif result.status == transmit.FAILED:
        flash(_("%(po)s not sent after %(attempts)s attempts: %(error)s", po=po_number, attempts=result.attempts,
                error=result.error), "error")  # fmt: skip
    else:
        flash(_("%(po)s: %(error)s", po=po_number, error=result.error), "error")
    return redirect(url_for("procurement.po_view", po_number=po_number))


def _whole(name: str, raw: str) -> int:
    whole: int = one(Int(minimum=0, maximum=10_000_000, required=True), name, raw)
    return whole


@bp.post("/po/<po_number>/lines/<int:line_number>")
@access.roles(*roles_for("edit_line"))
def po_edit_line(po_number: str, line_number: int) -> Any:
    def run() -> str:
        quantity = _whole("quantity", request.form.get("quantity", ""))
        price = _decimal("unit_price", request.form.get("unit_price"))
        if price is None:
            raise DomainError(lazy_gettext("unit price is required"), field="unit_price")
        workflow.edit_line(_db(), po_number, line_number, quantity, price, str(g.principal.actor), _services().clock)
        return _("line %(line)s changed", line=line_number)

    return _act(po_number, "edit_line", run, form_id=f"line-{line_number}")


@bp.post("/po/<po_number>/receive")
@access.roles(*roles_for("receive"))
def po_receive(po_number: str) -> Any:
    def run() -> str:
        quantities = {
            int(key[5:]): _whole(key, raw)
            for key, raw in request.form.items()
            if key.startswith("line_") and key[5:].isdigit() and raw.strip()
        }
        status = receiving.receive(_db(), po_number, quantities, str(g.principal.actor), _services().clock,
                                   request.form.get("note", ""))  # fmt: skip
        return _("receipt booked; %(po)s is %(status)s", po=po_number, status=_label(status))

    return _act(po_number, "receive", run)


@bp.post("/po/<po_number>/receive-scan")
@access.roles(*roles_for("receive"))
def po_receive_scan(po_number: str) -> Any:
    """One scanned label booked against the line it matches; the page says which line, how many and why."""

    def run() -> str:
        raw_quantity = request.form.get("quantity", "").strip()
        quantity = _whole("quantity", raw_quantity) if raw_quantity else None
        found, status = scan_receiving.receive_scan(_db(), po_number, request.form.get("scan", ""),
                                                     str(g.principal.actor), _services().clock, quantity)  # fmt: skip
        lot = _(", lot %(lot)s", lot=found.lot.lot) if found.lot.lot else ""
        expiry = _(", expires %(day)s", day=format(found.lot.expiry, "%Y-%m-%d")) if found.lot.expiry else ""
        return _("%(quantity)s × %(sku)s booked on line %(line)s%(lot)s%(expiry)s (%(reason)s); %(po)s is %(status)s",
                 quantity=found.quantity, sku=found.sku, line=found.line_number, lot=lot, expiry=expiry,
                 reason=found.reason, po=po_number, status=_label(status))  # fmt: skip

    return _act(po_number, "receive", run, form_id="receive_scan")


@bp.post("/po/<po_number>/close-short")
@access.roles(*roles_for("close_short"))
def po_close_short(po_number: str) -> Any:
    def run() -> str:
        receiving.close_short(_db(), po_number, request.form.get("reason", ""), str(g.principal.actor),
                              _services().clock)  # fmt: skip
        return _("%(po)s closed short", po=po_number)

    return _act(po_number, "close_short", run)


@bp.post("/po/<po_number>/close")
@access.roles(*roles_for("close"))
def po_close(po_number: str) -> Any:
    def run() -> str:
        orders.close(_db(), po_number, str(g.principal.actor), _services().clock)
        return _("%(po)s closed", po=po_number)

    return _act(po_number, "close", run)
