"""The receiving page (orders waiting for goods) and opening a purchase order's receiving from its scanned label.

A PO label's QR code holds `<server>/procurement/po/<po_number>` (see web/labels.py); the scan button takes that
link, the bare PO number (typed, or the Code 128 on the PO PDF) and refuses a link to another server
(core.scanned). A supplier's own label (GS1 or a part number) is no PO: on a PO's page the scan button hands it to
the existing receiving-by-scan form (procurement/scan_receiving.py), which books it against a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import jsonify, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import access, scanned
from core.errors import DomainError
from core.models import Site
from procurement.models import PurchaseOrder, Supplier
from procurement.po_actions import roles_for
from procurement.po_states import RECEIVABLE_STATUSES
from procurement.views import _db, bp

PO_PATH = "/procurement/po/"
NO_SUCH_PO = "no_such_po"  # the error code after which a PO page's scan button tries the supplier-label flow


@dataclass(frozen=True, slots=True)
class AwaitingGoods:
    po_number: str
    status: str
    supplier: str
    site: str


def awaiting_goods(session: Session, limit: int = 200) -> list[AwaitingGoods]:
    """Orders goods can be received against (sent, ordered, partly received), oldest first."""
    rows = session.execute(
        select(PurchaseOrder.po_number, PurchaseOrder.status, Supplier.name, Site.code)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .join(Site, Site.id == PurchaseOrder.site_id)
        .where(PurchaseOrder.status.in_([str(s) for s in RECEIVABLE_STATUSES]))
        .order_by(PurchaseOrder.id)
        .limit(limit)
    ).all()
    return [AwaitingGoods(number, status, supplier, site) for number, status, supplier, site in rows]


def find_po(session: Session, text: str, host: str, scheme: str, script_root: str = "") -> tuple[str, str]:
    """(po_number, status) of the order a scanned text names: its number, or a link to its page on this server."""
    found = scanned.read(text, host, scheme, script_root)
    number = found.segment_after(PO_PATH) if found.path else found.code
    if found.path and not number:
        raise DomainError(lazy_gettext("this label's link opens %(path)s on this server, which is not a purchase "
                                       "order: scan the order's label, or type its number", path=found.path[:80]),
                          field="code", code="not_a_po")  # fmt: skip
    row = session.execute(select(PurchaseOrder.po_number, PurchaseOrder.status)
                          .where(PurchaseOrder.po_number == number[:32])).first()  # fmt: skip
    if row is None:  # as people type it: "po-2026-0001"
        same = func.upper(PurchaseOrder.po_number) == number[:32].upper()
        rows = session.execute(select(PurchaseOrder.po_number, PurchaseOrder.status).where(same).limit(2)).all()
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise DomainError(lazy_gettext("no purchase order has the number %(number)s: check the label, or type the "
                                       "number", number=repr(number[:40])),
                          field="code", code=NO_SUCH_PO, status=404)  # fmt: skip
    return str(row[0]), str(row[1])


@bp.get("/receiving")
@access.roles(*roles_for("receive"))
def receiving_page() -> Any:
    return render_template("procurement/receiving.html", orders=awaiting_goods(_db()))


@bp.get("/scan")
@access.roles(*roles_for("receive"))
def scan_resolve() -> Any:
    """JSON for the scan button: `{"url", "po_number"}` (the receiving part of the PO page when goods can be
    received against it), or the one error shape naming the fix."""
    try:
        number, status = find_po(_db(), request.args.get("code", ""), request.host, request.scheme,
                                 request.script_root)  # fmt: skip
    except DomainError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, "field": exc.field or "code"}}
        return jsonify(body), 422 if exc.status == 400 else exc.status
    url = url_for("procurement.po_view", po_number=number)
    receivable = status in {str(s) for s in RECEIVABLE_STATUSES}
    return jsonify({"url": url + ("#receive-form" if receivable else ""), "po_number": number})
