"""Usage people can bill from: takes and returns over an inclusive range of local dates, filtered and grouped.

The range is whole days in the site's time zone: 2026-11-06 .. 2026-12-06 means from 2026-11-06 00:00 to the end
of 2026-12-06 local time, whichever form (page, CSV, XLSX, e-mail) asks. Money is quantity x the item's unit cost.
Charge codes live as JSON on each ledger row, so the rows of the period are read once and filtered and grouped here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext, lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utc
from core.errors import DomainError
from core.models import CostCenter, Item, Site
from core.texts import N_
from vending.models import ChargeCode, GroupMember, LedgerEntry, Machine, Slot, Worker, WorkerGroup

# dimension -> (column heading for its code, heading for its name); "worker" names people (see PERSONAL)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "cost_center": (N_("Cost center"), N_("Cost center name")),
    "item": (N_("SKU"), N_("Item")),
    "work_order": (N_("Work order"), N_("Description")),
    "job": (N_("Job"), N_("Description")),
    "group": (N_("Worker group"), N_("Group")),
    "machine": (N_("Machine"), N_("Machine name")),
    "worker": (N_("Worker ID"), N_("Worker name")),
}
TITLES = {
    "cost_center": lazy_gettext("cost center"),
    "item": lazy_gettext("item"),
    "work_order": lazy_gettext("work order"),
    "job": lazy_gettext("job"),
    "group": lazy_gettext("worker group"),
    "machine": lazy_gettext("machine"),
    "worker": lazy_gettext("worker"),
}
PERSONAL = frozenset({"worker"})
FILTERS = ("cost_center", "work_order", "group", "item", "machine")
NONE_LABEL = {
    "cost_center": N_("(no cost center)"),
    "work_order": N_("(no work order)"),
    "job": N_("(no job)"),
    "group": N_("(no group)"),
}
MAX_DAYS = 366 * 3
SERIES_SHOWN = 5  # the chart draws the biggest lines one by one and the rest as "Other"
CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class UsageQuery:
    start: date
    end: date  # inclusive
    timezone: str = "UTC"
    by: str = "item"
    cost_center: str = ""
    work_order: str = ""
    group: str = ""
    item: str = ""  # sku
    machine: str = ""  # machine code

    def __post_init__(self) -> None:
        if self.by not in DIMENSIONS:
            raise DomainError(
                lazy_gettext("group by must be one of %(dimensions)s", dimensions=", ".join(DIMENSIONS)), field="by"
            )
        if self.end < self.start:
            raise DomainError(lazy_gettext("the To date is before the From date: swap them"), field="end")
        if (self.end - self.start).days > MAX_DAYS:
            raise DomainError(
                lazy_gettext("a report covers at most %(max_days)s days: shorten the range", max_days=MAX_DAYS),
                field="start",
            )

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def bounds(self) -> tuple[datetime, datetime]:
        """[first day 00:00, day after the last 00:00) in the site's zone, as UTC."""
        zone = self.zone
        return (
            utc(datetime.combine(self.start, time(0), zone)),
            utc(datetime.combine(self.end + timedelta(days=1), time(0), zone)),
        )

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}


@dataclass(frozen=True, slots=True)
class UsageLine:
    code: str
    name: str
    quantity: int
    value: Decimal


@dataclass(frozen=True, slots=True)
class UsageReport:
    query: UsageQuery
    lines: list[UsageLine]
    quantity: int
    value: Decimal
    buckets: list[str] = field(default_factory=list)  # chart labels (days, or months over long ranges)
    series: dict[str, list[int]] = field(default_factory=dict)

    @property
    def headings(self) -> list[str]:
        code, name = DIMENSIONS[self.query.by]
        return [gettext(code), gettext(name), gettext("Quantity"), gettext("Value")]

    def table(self) -> list[list[object]]:
        """The rows exactly as the page shows them, then the total: what CSV and XLSX write."""
        rows: list[list[object]] = [[ln.code, ln.name, ln.quantity, ln.value] for ln in self.lines]
        rows.append([gettext("Total"), "", self.quantity, self.value])
        return rows


@dataclass(frozen=True, slots=True)
class _Take:
    at: datetime
    quantity: int  # taken (a return is negative)
    value: Decimal
    keys: dict[str, list[tuple[str, str]]]  # dimension -> [(code, name)]


def site_timezone(session: Session) -> str:
    zone = session.scalar(select(Site.timezone).order_by(Site.id))
    return zone or "UTC"


def default_query(session: Session, today: date, by: str = "item") -> UsageQuery:
    return UsageQuery(start=today - timedelta(days=30), end=today, timezone=site_timezone(session), by=by)


def run(session: Session, query: UsageQuery) -> UsageReport:
    takes = [t for t in _takes(session, query) if _passes(t, query)]
    quantities: dict[tuple[str, str], int] = defaultdict(int)
    values: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for take in takes:
        for key in take.keys[query.by]:
            quantities[key] += take.quantity
            values[key] += take.value
    lines = sorted(
        (
            UsageLine(code, name, quantities[key], values[key].quantize(CENTS))
            for key in quantities
            for code, name in [key]
        ),
        key=lambda ln: (-ln.quantity, ln.code),
    )
    quantity = sum(t.quantity for t in takes)
    value = sum((t.value for t in takes), Decimal(0)).quantize(CENTS)
    buckets, series = _over_time(takes, query, lines)
    return UsageReport(query, lines, quantity, value, buckets, series)


def _passes(take: _Take, query: UsageQuery) -> bool:
    for name in ("cost_center", "work_order", "group"):
        wanted = getattr(query, name)
        if wanted and wanted not in {code for code, _ in take.keys[name]}:
            return False
    return True


def _takes(session: Session, query: UsageQuery) -> Iterable[_Take]:
    start, end = query.bounds()
    stmt = (
        select(
            LedgerEntry.at,
            LedgerEntry.quantity,
            LedgerEntry.charge_codes,
            LedgerEntry.worker_id,
            Item.sku,
            Item.name,
            Item.unit_cost,
            Machine.code,
            Machine.name,
            Worker.worker_code,
            Worker.name,
        )
        .join(Item, Item.id == LedgerEntry.item_id)
        .join(Slot, Slot.id == LedgerEntry.slot_id)
        .join(Machine, Machine.id == Slot.machine_id)
        .outerjoin(Worker, Worker.id == LedgerEntry.worker_id)
        .where(LedgerEntry.kind.in_(("issue", "return")), LedgerEntry.at >= start, LedgerEntry.at < end)
    )
    if query.item:
        stmt = stmt.where(Item.sku == query.item)
    if query.machine:
        stmt = stmt.where(Machine.code == query.machine)
    groups = _groups_of_workers(session)
    names = _charge_names(session)
    for at, moved, codes_text, worker_id, sku, item_name, cost, m_code, m_name, w_code, w_name in session.execute(stmt):
        taken = -int(moved)
        codes = _codes(codes_text)
        keys: dict[str, list[tuple[str, str]]] = {
            "item": [(sku, item_name)],
            "machine": [(m_code, m_name)],
            "worker": [(w_code or "", w_name or gettext("(no worker)"))],
            "group": groups.get(worker_id or 0) or [("", gettext(NONE_LABEL["group"]))],
        }
        for kind in ("cost_center", "work_order", "job"):
            code = codes.get(kind, "")
            keys[kind] = [(code, names.get((kind, code), "") if code else gettext(NONE_LABEL[kind]))]
        yield _Take(utc(at), taken, Decimal(taken) * Decimal(cost or 0), keys)


def _codes(text: str | None) -> dict[str, str]:
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _groups_of_workers(session: Session) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for worker_id, name in session.execute(
        select(GroupMember.worker_id, WorkerGroup.name).join(WorkerGroup, WorkerGroup.id == GroupMember.group_id)
    ):
        found[worker_id].append((name, name))
    return found


def _charge_names(session: Session) -> dict[tuple[str, str], str]:
    names = {("cost_center", code): name for code, name in session.execute(select(CostCenter.code, CostCenter.name))}
    for kind, code, name in session.execute(select(ChargeCode.kind, ChargeCode.code, ChargeCode.name)):
        if name:
            names[(kind, code)] = name
    return names


def _over_time(takes: list[_Take], query: UsageQuery, lines: list[UsageLine]) -> tuple[list[str], dict[str, list[int]]]:
    zone, monthly = query.zone, (query.end - query.start).days > 62
    if monthly:
        labels, month = [], query.start.replace(day=1)
        while month <= query.end:
            labels.append(f"{month:%Y-%m}")
            month = (month + timedelta(days=32)).replace(day=1)
    else:
        labels = [f"{query.start + timedelta(days=d):%m-%d}" for d in range((query.end - query.start).days + 1)]
    index = {label: i for i, label in enumerate(labels)}
    shown = [(ln.code, ln.name) for ln in lines[:SERIES_SHOWN]]
    names = {key: (f"{key[0]} {key[1]}".strip() if key[0] != key[1] else key[0]) for key in shown}
    series: dict[str, list[int]] = {names[key]: [0] * len(labels) for key in shown}
    other = [0] * len(labels)
    for take in takes:
        local = take.at.astimezone(zone)
        slot = index[f"{local:%Y-%m}" if monthly else f"{local:%m-%d}"]
        for key in take.keys[query.by]:
            target = series[names[key]] if key in names else other
            target[slot] += take.quantity
    if any(other):
        series[gettext("Other")] = other
    return labels, series


def previous_month(today: date) -> tuple[date, date]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def chargeback(session: Session, month_start: date, month_end: date) -> UsageReport:
    """Money per cost center for a month: the report the monthly e-mail carries."""
    return run(session, replace(default_query(session, month_end, "cost_center"), start=month_start, end=month_end))
