"""Replenishment pages: "Run replenishment now" and its result, and an item's purchasing view with its exceptions."""

from __future__ import annotations

import re

from flask import redirect, render_template, url_for
from flask_babel import lazy_gettext
from sqlalchemy import select
from werkzeug.wrappers import Response

from core import access
from core.errors import DomainError, NotFound
from core.models import Item
from procurement import queries, run
from procurement.exceptions import exceptions
from procurement.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierItem
from procurement.orders import OPEN_STATUSES, POStatus
from procurement.views import BUYERS, READERS, _actor, _db, _services, bp

RUN_ID = re.compile(r"[0-9a-f]{16}")


@bp.post("/replenish")
@access.roles(*BUYERS)
def run_replenish() -> Response:
    session = _db()
    run_id = run.run_now(session, _services().clock, _actor())
    session.commit()
    return redirect(url_for("procurement.run_result", run_id=run_id))


@bp.get("/replenish/runs/<run_id>")
@access.roles(*READERS)
def run_result(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise DomainError(lazy_gettext("a run id is 16 hexadecimal characters"), field="run_id", status=404)
    session = _db()
    result = run.load(session, run_id)
    return render_template("procurement/run.html", result=result, exceptions=exceptions(session, _services().clock))


@bp.get("/items/<sku>")
@access.roles(*READERS)
def item_view(sku: str) -> str:
    session = _db()
    item = session.scalar(select(Item).where(Item.sku == sku[:64]))
    if item is None:
        raise NotFound(lazy_gettext("no item with SKU %(sku)s", sku=repr(sku[:64])), field="sku")
    policies = [p for p in queries.policies(session, limit=10_000) if p.sku == item.sku]
    offers = session.execute(
        select(Supplier.id, Supplier.code, Supplier.name, Supplier.active, SupplierItem.supplier_part_number,
               SupplierItem.last_price, SupplierItem.lead_time_days, SupplierItem.pack_qty)
        .join(Supplier, Supplier.id == SupplierItem.supplier_id)
        .where(SupplierItem.item_id == item.id)
        .order_by(SupplierItem.priority.desc(), Supplier.code)
    ).all()  # fmt: skip
    open_lines = session.execute(
        select(PurchaseOrder.po_number, PurchaseOrder.status, PurchaseOrderLine.quantity,
               PurchaseOrderLine.received_qty, PurchaseOrderLine.reason)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.item_id == item.id, PurchaseOrder.status.in_(OPEN_STATUSES))
        .order_by(PurchaseOrder.id.desc())
    ).all()  # fmt: skip
    return render_template(
        "procurement/item.html", item=item, policies=policies, offers=offers,
        open_lines=[(n, POStatus(s), q, r, why) for n, s, q, r, why in open_lines],
        exceptions=exceptions(session, _services().clock, sku=item.sku),
    )  # fmt: skip
