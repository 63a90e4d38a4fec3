"""Count differences for managers: the queue of flagged counts (accept or ask for a recount) and shrinkage.

A restock count moves the slot's on-hand to what was counted (a ledger row of kind "count", flagged when it differs).
The difference stays open here until a manager accepts it (written off as shrinkage) or asks for a recount; a
recount request is settled by the next count of that slot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, DomainError, NotFound
from core.models import Item
from vending.models import CountReview, LedgerEntry, Machine, Slot, Worker

DECISIONS = ("accepted", "recount")


@dataclass(frozen=True, slots=True)
class CountDifference:
    ledger_id: int
    at: datetime
    machine_code: str
    machine_name: str
    slot_code: str
    sku: str
    item_name: str
    expected: int
    counted: int
    difference: int
    value: Decimal
    counted_by: str
    decision: str  # "" (open), accepted, recount, recounted
    decided_by: str


@dataclass(frozen=True, slots=True)
class ShrinkageLine:
    machine_code: str
    machine_name: str
    sku: str
    item_name: str
    counts: int
    missing: int  # units counted short
    surplus: int  # units counted over
    net: int  # surplus - missing (negative = lost)
    value: Decimal  # net x unit cost


def differences(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[CountDifference]:
    """Every flagged count (newest first) with its review; a recount request with a later count is "recounted"."""
    stmt = (
        select(
            LedgerEntry,
            Slot.code,
            Machine.code,
            Machine.name,
            Item.sku,
            Item.name,
            Item.unit_cost,
            Worker.worker_code,
            CountReview,
        )
        .join(Slot, Slot.id == LedgerEntry.slot_id)
        .join(Machine, Machine.id == Slot.machine_id)
        .join(Item, Item.id == LedgerEntry.item_id)
        .outerjoin(Worker, Worker.id == LedgerEntry.worker_id)
        .outerjoin(CountReview, CountReview.ledger_id == LedgerEntry.id)
        .where(LedgerEntry.kind == "count", LedgerEntry.flagged.is_(True))
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())
    )
    if start is not None:
        stmt = stmt.where(LedgerEntry.at >= start)
    if end is not None:
        stmt = stmt.where(LedgerEntry.at < end)
    rows = session.execute(stmt).all()
    last_count = _last_count_per_slot(session)
    found = []
    for entry, slot_code, machine_code, machine_name, sku, name, cost, worker_code, review in rows:
        decision = review.decision if review else ""
        if decision == "recount" and last_count.get(entry.slot_id, 0) > entry.id:
            decision = "recounted"
        counted = entry.on_hand_after
        found.append(
            CountDifference(
                entry.id,
                entry.at,
                machine_code,
                machine_name,
                slot_code,
                sku,
                name,
                counted - entry.quantity,
                counted,
                entry.quantity,
                (Decimal(entry.quantity) * Decimal(cost or 0)).quantize(Decimal("0.01")),
                worker_code or entry.actor,
                decision,
                review.decided_by if review else "",
            )
        )
    return found


def _last_count_per_slot(session: Session) -> dict[int, int]:
    found: dict[int, int] = {}
    for slot_id, ledger_id in session.execute(
        select(LedgerEntry.slot_id, LedgerEntry.id).where(LedgerEntry.kind == "count")
    ):
        found[slot_id] = max(found.get(slot_id, 0), ledger_id)
    return found


def open_queue(session: Session) -> list[CountDifference]:
    """What a manager still has to look at: undecided differences and recounts not yet done."""
    return [d for d in differences(session) if d.decision in ("", "recount")]


def recount_requested(session: Session, machine_id: int) -> set[str]:
    """Slot codes of this machine where a manager asked for a recount that has not happened yet."""
    code = session.scalar(select(Machine.code).where(Machine.id == machine_id))
    return {d.slot_code for d in open_queue(session) if d.decision == "recount" and d.machine_code == code}


def decide(session: Session, ledger_id: int, decision: str, actor: str, now: datetime, note: str = "") -> None:
    if decision not in DECISIONS:
        raise DomainError(
            lazy_gettext("decision must be one of %(decisions)s", decisions=", ".join(DECISIONS)), field="decision"
        )
    entry = session.get(LedgerEntry, ledger_id)
    if entry is None or entry.kind != "count" or not entry.flagged:
        raise NotFound(lazy_gettext("no flagged count %(ledger_id)s", ledger_id=ledger_id), field="ledger_id")
    if session.get(CountReview, ledger_id) is not None:
        raise Conflict(
            lazy_gettext("count %(ledger_id)s has been reviewed already", ledger_id=ledger_id), field="ledger_id"
        )
    session.add(
        CountReview(ledger_id=ledger_id, decision=decision, decided_by=actor, decided_at=now, note=note.strip()[:500])
    )
    audit.record(
        session,
        actor,
        f"vending.count.{decision}",
        "vending_ledger",
        ledger_id,
        after={"decision": decision, "difference": entry.quantity},
        comment=note.strip()[:500],
    )
    session.flush()


def shrinkage(session: Session, start: datetime, end: datetime) -> list[ShrinkageLine]:
    """Count differences per machine and item over [start, end): what went missing (or turned up), with value."""
    counts: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    values: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for d in differences(session, start, end):
        key = (d.machine_code, d.machine_name, d.sku, d.item_name)
        counts[key][0] += 1
        counts[key][1 if d.difference < 0 else 2] += abs(d.difference)
        values[key] += d.value
    lines = [
        ShrinkageLine(m, mn, sku, name, n, missing, surplus, surplus - missing, values[(m, mn, sku, name)])
        for (m, mn, sku, name), (n, missing, surplus) in counts.items()
    ]
    return sorted(lines, key=lambda ln: (ln.value, ln.machine_code, ln.sku))
