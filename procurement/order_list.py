"""The ERP's purchase-order list in two prepared reads, its JSON built again only when the rows it reads change.

`/api/v1/procurement/purchase-orders` is polled by integrations. Every call reads the orders the filter lets
through and their lines' quantities and prices (two statements compiled once per set of filters,
`core.prepared`, on the request's read connection: no Session), so a change committed by any process shows in
the next answer. The rows are compared, as the driver returned them, with the rows the process's last body for
the same filter and language was built from; only when they differ is the queue assembled
(`procurement.queries.assemble`, as the page does) and the body rendered again. The body is per language:
requesters and warnings are shown in the reader's language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select

from core.models import Site
from core.prepared import FastWork, Prepared
from procurement.models import PurchaseOrder, PurchaseOrderLine, Supplier
from procurement.queries import _QUEUE, Queue, QueueFilter, QueueLine, assemble

Render = Callable[[Queue], str]
MAX_BODIES = 64  # distinct (filter, language) bodies one process keeps; past that it starts over
MAX_ROWS = 20_000  # order and line rows kept in all; past that it starts over too
_STATEMENTS: dict[tuple[bool, bool, bool], tuple[Prepared, Prepared]] = {}


def _statements(flt: QueueFilter) -> tuple[Prepared, Prepared]:
    """The orders and their lines for the filters `flt` gives, every value a parameter (p_status, p_site,
    p_supplier): the lines are those of the orders the first statement returns (the same filter and limit).

    The lines carry what the body is built from, each line's quantity and price (the order's total): not the sku
    or the reason the page shows, which cost most of the reading (the reason is text) and change nothing here
    (every line has its item: `item_id` is a NOT NULL foreign key, so leaving out the join drops no line)."""
    key = (bool(flt.status), bool(flt.site), bool(flt.supplier))
    found = _STATEMENTS.get(key)
    if found is None:
        orders = _QUEUE
        if flt.status:
            orders = orders.where(PurchaseOrder.status == bindparam("p_status"))
        if flt.site:
            orders = orders.where(Site.code == bindparam("p_site"))
        if flt.supplier:
            orders = orders.where(Supplier.code == bindparam("p_supplier"))
        chosen = orders.with_only_columns(PurchaseOrder.id).subquery()
        lines = (
            select(PurchaseOrderLine.po_id, PurchaseOrderLine.line_number, PurchaseOrderLine.quantity,
                   PurchaseOrderLine.unit_price)
            .where(PurchaseOrderLine.po_id.in_(select(chosen.c.id)))
            .order_by(PurchaseOrderLine.po_id, PurchaseOrderLine.line_number)
        )  # fmt: skip
        found = _STATEMENTS[key] = (Prepared(orders), Prepared(lines))
    return found


class OrderBodies:
    """The last body per (database, filter, language, render), kept while the rows read for it stay the same."""

    def __init__(self, max_bodies: int = MAX_BODIES, max_rows: int = MAX_ROWS) -> None:
        self.max_bodies, self.max_rows = max_bodies, max_rows
        self._bodies: dict[tuple[Any, ...], tuple[list[Any], list[Any], str]] = {}
        self._rows = 0

    def body(self, work: FastWork, flt: QueueFilter, language: str, render: Render) -> str:
        if flt.min_total is not None:
            raise ValueError("the list API has no min_total filter")
        orders, lines = _statements(flt)
        params = {"p_status": flt.status, "p_site": flt.site, "p_supplier": flt.supplier}
        found, found_lines = work.send(orders, params), work.send(lines, params)
        raw, raw_lines = found.raw(), found_lines.raw()
        key = (work.engine.url, flt, language, render)
        kept = self._bodies.get(key)
        if kept is not None and kept[0] == raw and kept[1] == raw_lines:
            return kept[2]
        by_order: dict[int, list[QueueLine]] = defaultdict(list)
        for po_id, line_number, quantity, unit_price in found_lines.all():  # no sku or reason: see _statements
            by_order[po_id].append(QueueLine(line_number, "", quantity, unit_price, ""))
        text = render(assemble(found.all(), by_order, flt))
        if len(self._bodies) >= self.max_bodies or self._rows + len(raw) + len(raw_lines) > self.max_rows:
            self._bodies.clear()
            self._rows = 0
        self._bodies[key] = (list(raw), list(raw_lines), text)
        self._rows += len(raw) + len(raw_lines)
        return text


BODIES = OrderBodies()  # the process's bodies (procurement.api's list)
