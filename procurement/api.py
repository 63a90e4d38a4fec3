"""Read-only JSON API of procurement for integrations (ERP or READ tokens) and the procurement roles."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale

from core import access, notes
from core.roles import Role, TokenScope
from procurement import order_list, queries
from procurement.documents import build_context

bp = Blueprint("procurement_api", __name__, url_prefix="/api/v1/procurement")
WHO = (Role.PROCUREMENT, Role.APPROVER, Role.ADMIN)
SCOPES = (TokenScope.READ, TokenScope.ERP)


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _read_db() -> Any:
    """The request's session for views that write nothing (on SQLite it never waits for the write lock)."""
    return current_app.extensions["vendtrack_read_db"]()


@bp.get("/purchase-orders")
@access.roles(*WHO, scopes=SCOPES)
def list_orders() -> Any:
    flt = queries.QueueFilter(status=request.args.get("status", ""), site=request.args.get("site", ""),
                              supplier=request.args.get("supplier", ""))  # fmt: skip
    read = current_app.extensions["vendtrack_read_work"]()
    body = order_list.BODIES.body(read, flt, str(get_locale()), _render_orders)
    return current_app.response_class(body, mimetype="application/json")


def _render_orders(data: queries.Queue) -> str:
    """The list's body as `jsonify` gives it."""
    return current_app.json.dumps(
        {
            "purchase_orders": [
                {"po_number": r.po_number, "status": r.status, "supplier": r.supplier, "site": r.site,
                 "currency": r.currency, "total": str(r.total), "requester": r.requester, "origin": r.origin,
                 "created_at": r.created_at.isoformat(), "warnings": list(r.warnings)}
                for r in data.rows
            ],
            "totals": {currency: str(amount) for currency, amount in data.totals},
        },
        separators=(",", ":"),
    ) + "\n"  # fmt: skip


@bp.get("/purchase-orders/<po_number>")
@access.roles(*WHO, scopes=SCOPES)
def show_order(po_number: str) -> Any:
    session = _db()
    ctx = build_context(session, po_number)
    info = queries.detail(session, po_number, current_app.extensions["vendtrack"].clock)
    return jsonify(
        {
            "po_number": ctx.po_number, "status": ctx.status, "currency": ctx.currency,
            "supplier": {"code": ctx.supplier.code, "name": ctx.supplier.name}, "ship_to": ctx.ship_to.code,
            "subtotal": str(ctx.subtotal), "tax": str(ctx.tax), "total": str(ctx.total),
            "approved_by": ctx.approved_by, "approved_at": ctx.approved_at.isoformat() if ctx.approved_at else None,
            "lines": [
                {"line": r.line_number, "sku": r.sku, "supplier_part_number": r.supplier_part_number,
                 "quantity": r.quantity, "unit": r.unit, "unit_price": str(r.unit_price), "received": r.received,
                 "reason": notes.english(info.reasons.get(r.line_number, ""))}
                for r in ctx.lines
            ],
            "history": [{"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "text": h.sentence,
                         "comment": h.comment} for h in info.history],
        }
    )  # fmt: skip
