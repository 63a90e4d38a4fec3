"""Writing a replenishment's proposals: drafts found or made per (supplier, site, currency), lines inserted or merged.

Each key's open system draft is found through its draft slot or created; new lines go in with one executemany of a
prepared INSERT; a line already on the draft for the item is merged (quantity added, re-priced, one more reason line).
"""

from __future__ import annotations

import typing
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.note_values import Moment
from core.notes import N_, Note
from core.prepared import FastWork, Prepared
from procurement.models import DraftSlot, PurchaseOrder, PurchaseOrderLine, SiteProcurementSettings
from procurement.orders import DRAFT
from procurement.replenish_pairs import IDS_PER_STATEMENT
from procurement.suppliers import Offer

# Drafts per round when reading their lines: that statement binds these ids plus up to IDS_PER_STATEMENT item ids,
# so 500 keeps it at 5,500 parameters, inside the limits of SQLite (32,766) and PostgreSQL (65,535).
DRAFTS_PER_ROUND = 500


class Proposal(typing.NamedTuple):
    """One line a run proposes. A named tuple (immutable; made several times faster than a frozen dataclass): a full
    run makes one per line, tens of thousands, and they never leave replenishment."""

    item_id: int
    site_id: int
    offer: Offer
    quantity: int
    reason: Note  # stored on the line as a note (core/notes.py), shown in the reader's language
    cost_center_id: int | None


@dataclass(frozen=True, slots=True)
class DraftChange:
    """What one run did to one system draft."""

    po_number: str
    lines_added: int
    lines_merged: int
    created: bool


_LINES = typing.cast(Table, PurchaseOrderLine.__table__)
_NEW_LINE_COLUMNS = ("po_id", "line_number", "item_id", "supplier_item_id", "quantity", "unit_price", "received_qty",
                     "closed_qty", "reason")  # fmt: skip
# inline: no RETURNING of the new ids on PostgreSQL (nobody reads them), one row of results fewer per line
_INSERT_LINE = Prepared(insert(_LINES).values({name: bindparam(name) for name in _NEW_LINE_COLUMNS}).inline())
_MERGE_LINE = (
    _LINES.update()
    .where(_LINES.c.id == bindparam("line_id"))
    .values(
        quantity=bindparam("new_qty"),
        unit_price=bindparam("new_price"),
        supplier_item_id=bindparam("new_si"),
        reason=bindparam("new_reason"),
    )
)


def _merged_reason(old: str, stamp: Moment, prop: Proposal, quantity: int) -> str:
    """The line's stored reason with one more line for what this run added."""
    more = Note.of(N_("%(at)s: +%(added)s: %(reason)s (now %(quantity)s)"),
                   at=stamp, added=prop.quantity, reason=prop.reason, quantity=quantity)  # fmt: skip
    return f"{old}\n{more.encode()}" if old else more.encode()


def _existing_lines(
    session: Session, po_ids: list[int], items: list[int]
) -> tuple[dict[tuple[int, int], Any], dict[int, int]]:
    """Lines already on these drafts for these items (to merge into), and each draft's next line number."""
    existing: dict[tuple[int, int], Any] = {}
    next_no: dict[int, int] = defaultdict(lambda: 1)
    line = PurchaseOrderLine
    conn = session.connection()
    for chunk in range(0, len(po_ids), DRAFTS_PER_ROUND):
        ids = po_ids[chunk : chunk + DRAFTS_PER_ROUND]
        for po_id, top in conn.execute(
            select(line.po_id, func.max(line.line_number)).where(line.po_id.in_(ids)).group_by(line.po_id)
        ):
            next_no[po_id] = int(top) + 1
        for item_chunk in range(0, len(items), IDS_PER_STATEMENT):
            for row in conn.execute(
                select(line.id, line.po_id, line.item_id, line.quantity, line.reason).where(
                    line.po_id.in_(ids), line.item_id.in_(items[item_chunk : item_chunk + IDS_PER_STATEMENT])
                )
            ):
                existing[(row.po_id, row.item_id)] = row
    return existing, next_no


def write_proposals(session: Session, proposals: list[Proposal], clock: Clock, actor: str) -> tuple[DraftChange, ...]:
    """Bulk: find or create the drafts, then insert new lines and merge into existing ones (re-priced)."""
    by_key: dict[tuple[int, int, str], list[Proposal]] = defaultdict(list)
    for prop in proposals:
        by_key[(prop.offer.supplier_id, prop.site_id, prop.offer.currency)].append(prop)
    if not by_key:
        return ()
    drafts, new_numbers = _drafts_for(session, by_key, clock, actor)
    po_ids = sorted(po_id for po_id, _ in drafts.values())
    older = [po_id for po_id, number in drafts.values() if number not in new_numbers]  # a new draft has no lines yet
    existing, next_no = _existing_lines(session, sorted(older), sorted({prop.item_id for prop in proposals}))
    stamp = Moment(clock.now())
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    encoded: dict[int, str] = {}  # by the note's id: lines of a run share their reason notes (see _propose)
    counts: dict[int, tuple[int, int]] = {}
    for key, props in by_key.items():
        po_id = drafts[key][0]
        line_no, merged = next_no[po_id], 0
        for prop in props:
            old = existing.get((po_id, prop.item_id)) if existing else None
            if old is not None:
                qty = old.quantity + prop.quantity
                updates.append(
                    {"line_id": old.id, "new_qty": qty, "new_price": prop.offer.price_for(qty),
                     "new_si": prop.offer.supplier_item_id,
                     "new_reason": _merged_reason(old.reason, stamp, prop, qty)}
                )  # fmt: skip
                merged += 1
                continue
            offer, reason = prop.offer, prop.reason
            text = encoded.get(id(reason))
            if text is None:
                text = encoded[id(reason)] = reason.encode()
            inserts.append(
                {"po_id": po_id, "line_number": line_no, "item_id": prop.item_id,
                 "supplier_item_id": offer.supplier_item_id, "quantity": prop.quantity,
                 "unit_price": offer.price_for(prop.quantity), "received_qty": 0, "closed_qty": 0, "reason": text}
            )  # fmt: skip
            line_no += 1
        counts[po_id] = (line_no - next_no[po_id], merged)
    if inserts:  # one executemany, compiled once: tens of thousands of rows in a full run
        FastWork.of_session(session).execute_many(_INSERT_LINE, inserts)
    if updates:
        session.connection().execute(_MERGE_LINE, updates)
    orders_table = typing.cast(Table, PurchaseOrder.__table__)
    session.connection().execute(
        orders_table.update().where(orders_table.c.id.in_(po_ids)).values(updated_at=clock.now())
    )
    changes = []
    for po_id, number in drafts.values():
        added, merged = counts.get(po_id, (0, 0))
        audit.record(session, actor, "po.replenish", "purchase_order", number,
                     after={"lines_added": added, "lines_merged": merged}, clock=clock)  # fmt: skip
        changes.append(DraftChange(number, added, merged, number in new_numbers))
    return tuple(sorted(changes, key=lambda c: c.po_number))


def _drafts_for(
    session: Session, by_key: dict[tuple[int, int, str], list[Proposal]], clock: Clock, actor: str
) -> tuple[dict[tuple[int, int, str], tuple[int, str]], frozenset[str]]:
    """(supplier, site, currency) → (po_id, po_number) of its open system draft, creating (and naming) missing ones."""
    found = {
        (r.supplier_id, r.site_id, r.currency): (r.po_id, r.po_number)
        for r in session.execute(
            select(DraftSlot.supplier_id, DraftSlot.site_id, DraftSlot.currency, DraftSlot.po_id,
                   PurchaseOrder.po_number).join(PurchaseOrder, PurchaseOrder.id == DraftSlot.po_id)
        )
    }  # fmt: skip
    found = {key: value for key, value in found.items() if key in by_key}
    missing = [key for key in by_key if key not in found]
    if not missing:
        return found, frozenset()
    taxes = dict(session.execute(select(SiteProcurementSettings.site_id, SiteProcurementSettings.tax_rate)).all())
    now, tag = clock.now(), uuid.uuid4().hex[:12]
    temp = {key: f"tmp-{tag}-{n}" for n, key in enumerate(missing)}
    session.execute(
        insert(PurchaseOrder),
        [{"po_number": temp[key], "supplier_id": key[0], "site_id": key[1], "currency": key[2], "status": DRAFT,
          "origin": "system", "requester": actor, "last_editor": actor,
          "cost_center_id": by_key[key][0].cost_center_id, "tax_rate": taxes.get(key[1], Decimal("0")),
          "created_at": now, "updated_at": now} for key in missing],
    )  # fmt: skip
    ids = dict(
        session.execute(
            select(PurchaseOrder.po_number, PurchaseOrder.id).where(PurchaseOrder.po_number.like(f"tmp-{tag}-%"))
        ).all()
    )
    session.execute(
        update(PurchaseOrder), [{"id": ids[temp[k]], "po_number": f"PO-{ids[temp[k]]:06d}"} for k in missing]
    )
    session.execute(
        insert(DraftSlot),
        [{"supplier_id": k[0], "site_id": k[1], "currency": k[2], "po_id": ids[temp[k]]} for k in missing],
    )  # the unique (supplier, site, currency) slot: a twin draft cannot exist
    for key in missing:
        po_id = ids[temp[key]]
        found[key] = (po_id, f"PO-{po_id:06d}")
        audit.record(session, actor, "po.create", "purchase_order", found[key][1], after={"status": DRAFT},
                     clock=clock)  # fmt: skip
    return found, frozenset(found[key][1] for key in missing)
