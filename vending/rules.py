"""Rules engine: quantity limits per shift/day/week/rolling window, checked before any hardware moves.

Loading is two queries (the applicable rules, then the usage since the earliest window start);
evaluation is pure Python over frozen values so it is fast and testable with a fixed clock.
A refusal names the rule and when the allowance comes back: "limit 2 per shift reached, next at 14:00".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.clock import utc
from core.models import Item
from vending.models import GroupMember, LedgerEntry, Rule

WINDOWS = ("shift", "day", "week", "rolling")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: int
    name: str
    quantity: int
    window: str
    rolling_hours: int
    shift_starts: tuple[time, ...]
    item_id: int | None
    category: str | None
    pooled_group_id: int | None  # count the whole group's usage instead of the worker's


@dataclass(frozen=True, slots=True)
class Usage:
    at: datetime
    item_id: int
    category: str
    quantity: int  # taken (issues positive, returns negative)
    worker_id: int


@dataclass(frozen=True, slots=True)
class Refusal:
    rule_id: int
    rule_name: str
    message: str
    resets_at: datetime | None


def parse_shift_starts(text: str) -> tuple[time, ...]:
    starts = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            hours, minutes = part.split(":")
            starts.append(time(int(hours), int(minutes)))
        except ValueError:
            raise ValueError(f"shift start {part!r} is not HH:MM (e.g. 06:00,14:00,22:00)") from None
    if not starts:
        raise ValueError("a shift rule needs at least one shift start such as 06:00")
    return tuple(sorted(starts))


def window_bounds(spec: RuleSpec, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end (the reset) of the fixed window holding `now`; rolling windows end at `now`."""
    local = now.astimezone(tz)
    if spec.window == "rolling":
        return now - timedelta(hours=spec.rolling_hours), now
    if spec.window == "day":
        start = datetime.combine(local.date(), time(0), tz)
        return utc(start), utc(start + timedelta(days=1))
    if spec.window == "week":
        start = datetime.combine(local.date() - timedelta(days=local.weekday()), time(0), tz)
        return utc(start), utc(start + timedelta(days=7))
    starts = spec.shift_starts
    candidates = [datetime.combine(local.date() + timedelta(days=d), s, tz) for d in (-1, 0, 1) for s in starts]
    begin = max(c for c in candidates if c <= local)
    end = min(c for c in candidates if c > local)
    return utc(begin), utc(end)


def _matches(spec: RuleSpec, usage: Usage, worker_id: int, members: frozenset[int]) -> bool:
    if spec.item_id is not None and usage.item_id != spec.item_id:
        return False
    if spec.category is not None and usage.category != spec.category:
        return False
    if spec.pooled_group_id is not None:
        return usage.worker_id in members
    return usage.worker_id == worker_id


def _describe(spec: RuleSpec) -> str:
    return f"rolling {spec.rolling_hours} h" if spec.window == "rolling" else spec.window


def _when(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    return local.strftime("%a %d %b %H:%M")


def evaluate(
    specs: list[RuleSpec],
    usage: list[Usage],
    *,
    worker_id: int,
    members: frozenset[int],
    quantity: int,
    now: datetime,
    tz: ZoneInfo,
) -> Refusal | None:
    """First rule the request would break, or None. `usage` holds everything since the earliest window start."""
    for spec in specs:
        start, end = window_bounds(spec, now, tz)
        inside = [u for u in usage if u.at >= start and _matches(spec, u, worker_id, members)]
        used = sum(u.quantity for u in inside)
        if used + quantity <= spec.quantity:
            continue
        resets = _rolling_reset(inside, used, quantity, spec) if spec.window == "rolling" else end
        who = "your group's " if spec.pooled_group_id is not None else ""
        text = f"{spec.name}: {who}limit {spec.quantity} per {_describe(spec)} reached"
        if used < spec.quantity:
            text = f"{spec.name}: only {spec.quantity - used} more allowed per {_describe(spec)}"
        if resets is not None and quantity <= spec.quantity:
            text += f", next at {_when(resets, now, tz)}"
        return Refusal(spec.id, spec.name, text, resets)
    return None


def _rolling_reset(inside: list[Usage], used: int, quantity: int, spec: RuleSpec) -> datetime | None:
    """When enough of the oldest usage has left the rolling window for `quantity` more to fit."""
    remaining = used
    for row in sorted(inside, key=lambda u: u.at):
        remaining -= row.quantity
        if remaining + quantity <= spec.quantity:
            return row.at + timedelta(hours=spec.rolling_hours)
    return None


def _spec(rule: Rule, members_of: Mapping[int, int | None]) -> RuleSpec:
    return RuleSpec(
        id=rule.id,
        name=rule.name,
        quantity=rule.quantity,
        window=rule.window,
        rolling_hours=rule.rolling_hours,
        shift_starts=parse_shift_starts(rule.shift_starts) if rule.window == "shift" else (),
        item_id=rule.item_id,
        category=rule.category,
        pooled_group_id=members_of.get(rule.id),
    )


def load_specs(
    session: Session, *, site_id: int | None, worker_id: int, groups: set[int], item_id: int, category: str
) -> list[RuleSpec]:
    who = [Rule.worker_id == worker_id, and_(Rule.worker_id.is_(None), Rule.group_id.is_(None))]
    if groups:
        who.append(Rule.group_id.in_(groups))
    what = or_(
        Rule.item_id == item_id,
        and_(Rule.item_id.is_(None), or_(Rule.category == category, Rule.category.is_(None))),
    )
    where = or_(Rule.site_id.is_(None), Rule.site_id == site_id)
    rules = list(session.scalars(select(Rule).where(Rule.active.is_(True), or_(*who), what, where).order_by(Rule.id)))
    pooled = {r.id: r.group_id for r in rules if r.pooled and r.group_id is not None}
    return [_spec(r, pooled) for r in rules]


def load_usage(
    session: Session, *, specs: list[RuleSpec], worker_id: int, now: datetime, tz: ZoneInfo
) -> tuple[list[Usage], frozenset[int]]:
    if not specs:
        return [], frozenset()
    since = min(window_bounds(s, now, tz)[0] for s in specs)
    pooled_groups = {s.pooled_group_id for s in specs if s.pooled_group_id is not None}
    members = frozenset({worker_id})
    if pooled_groups:
        members = frozenset(
            session.scalars(select(GroupMember.worker_id).where(GroupMember.group_id.in_(pooled_groups)))
        ) | {worker_id}
    item_ids = {s.item_id for s in specs if s.item_id is not None}
    categories = {s.category for s in specs if s.category is not None}
    query = (
        select(LedgerEntry.at, LedgerEntry.item_id, Item.category, LedgerEntry.quantity, LedgerEntry.worker_id)
        .join(Item, Item.id == LedgerEntry.item_id)
        .where(
            LedgerEntry.worker_id.in_(members) if len(members) > 1 else LedgerEntry.worker_id == worker_id,
            LedgerEntry.at >= since,
            LedgerEntry.kind.in_(("issue", "return")),
        )
    )
    if all(s.item_id is not None or s.category is not None for s in specs):
        query = query.where(or_(LedgerEntry.item_id.in_(item_ids), Item.category.in_(categories)))
    rows = session.execute(query).all()
    return [Usage(utc(r[0]), r[1], r[2], -r[3], r[4] or 0) for r in rows], members


def check(
    session: Session,
    *,
    site_id: int | None,
    worker_id: int,
    groups: set[int],
    item_id: int,
    category: str,
    quantity: int,
    now: datetime,
    tz: ZoneInfo,
) -> Refusal | None:
    specs = load_specs(session, site_id=site_id, worker_id=worker_id, groups=groups, item_id=item_id, category=category)
    usage, members = load_usage(session, specs=specs, worker_id=worker_id, now=now, tz=tz)
    return evaluate(specs, usage, worker_id=worker_id, members=members, quantity=quantity, now=now, tz=tz)


def validate_rule(name: str, quantity: int, window: str, rolling_hours: int, shift_starts: str) -> None:
    from core.errors import DomainError

    if not name.strip():
        raise DomainError("rule name is empty: e.g. 'Gloves per shift'", field="name")
    if quantity < 0:
        raise DomainError("quantity must be 0 or more (0 forbids the item)", field="quantity")
    if window not in WINDOWS:
        raise DomainError(f"window must be one of {', '.join(WINDOWS)}", field="window")
    if window == "rolling" and not 1 <= rolling_hours <= 24 * 90:
        raise DomainError("rolling hours must be between 1 and 2160", field="rolling_hours")
    if window == "shift":
        try:
            parse_shift_starts(shift_starts)
        except ValueError as exc:
            raise DomainError(str(exc), field="shift_starts") from None
