"""Usage reports (by worker, group, charge code, item over a period) and consumption outliers."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.models import Item
from vending.models import GroupMember, LedgerEntry, Worker, WorkerGroup

DIMENSIONS = ("worker", "group", "charge_code", "item")


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    label: str
    quantity: int
    value: Decimal


@dataclass(frozen=True, slots=True)
class Outlier:
    worker_code: str
    worker_name: str
    group: str
    quantity: int
    group_median: float
    ratio: float


def _taken():  # type: ignore[no-untyped-def]
    return func.sum(-LedgerEntry.quantity)


def _value():  # type: ignore[no-untyped-def]
    return func.sum(-LedgerEntry.quantity * Item.unit_cost)


def usage(session: Session, by: str, start: datetime, end: datetime) -> list[UsageRow]:
    if by not in DIMENSIONS:
        raise DomainError(
            lazy_gettext("report by must be one of %(dimensions)s", dimensions=", ".join(DIMENSIONS)), field="by"
        )
    period = (LedgerEntry.kind.in_(("issue", "return")), LedgerEntry.at >= start, LedgerEntry.at < end)
    base = select().select_from(LedgerEntry).join(Item, Item.id == LedgerEntry.item_id).where(*period)
    if by == "charge_code":
        return _by_charge_code(session, base)
    if by == "item":
        query = base.add_columns(Item.sku, Item.name, _taken(), _value()).group_by(Item.sku, Item.name)
    elif by == "worker":
        query = (
            base.join(Worker, Worker.id == LedgerEntry.worker_id)
            .add_columns(Worker.worker_code, Worker.name, _taken(), _value())
            .group_by(Worker.worker_code, Worker.name)
        )
    else:
        query = (
            base.join(GroupMember, GroupMember.worker_id == LedgerEntry.worker_id)
            .join(WorkerGroup, WorkerGroup.id == GroupMember.group_id)
            .add_columns(WorkerGroup.name, WorkerGroup.name, _taken(), _value())
            .group_by(WorkerGroup.name)
        )
    rows = [UsageRow(str(r[0]), str(r[1]), int(r[2] or 0), Decimal(r[3] or 0)) for r in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.quantity, r.key))


def _by_charge_code(session: Session, base):  # type: ignore[no-untyped-def]
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    query = base.add_columns(LedgerEntry.charge_codes, -LedgerEntry.quantity, Item.unit_cost)
    for codes_text, taken, cost in session.execute(query):
        codes = json.loads(codes_text or "{}") or {"none": "(no code)"}
        for kind, code in codes.items():
            total = totals[f"{kind}:{code}"]
            total[0] += taken
            total[1] += Decimal(taken) * Decimal(cost or 0)
    return sorted((UsageRow(key, key, int(q), v) for key, (q, v) in totals.items()), key=lambda r: (-r.quantity, r.key))


def outliers(
    session: Session, start: datetime, end: datetime, factor: float = 3.0, min_quantity: int = 5
) -> list[Outlier]:
    """Workers whose consumption is more than `factor` x their group's median (every member counts, idle = 0)."""
    per_worker: dict[int, int] = dict(
        session.execute(
            select(LedgerEntry.worker_id, _taken())
            .where(
                LedgerEntry.kind.in_(("issue", "return")),
                LedgerEntry.at >= start,
                LedgerEntry.at < end,
                LedgerEntry.worker_id.is_not(None),
            )
            .group_by(LedgerEntry.worker_id)
        ).all()
    )
    members: dict[str, list[Worker]] = defaultdict(list)
    for group_name, worker in session.execute(
        select(WorkerGroup.name, Worker)
        .join(GroupMember, GroupMember.group_id == WorkerGroup.id)
        .join(Worker, Worker.id == GroupMember.worker_id)
    ):
        members[group_name].append(worker)
    found = []
    for group_name, workers in sorted(members.items()):
        amounts = [int(per_worker.get(w.id, 0) or 0) for w in workers]
        median = statistics.median(amounts) if amounts else 0.0
        for worker, amount in zip(workers, amounts, strict=True):
            if amount < min_quantity:
                continue
            if median == 0 or amount > factor * median:
                ratio = amount / median if median else float("inf")
                found.append(Outlier(worker.worker_code, worker.name, group_name, amount, float(median), ratio))
    return sorted(found, key=lambda o: -o.quantity)
