"""In-process cache of the active rules (and pooled groups' members): no rule query per dispense.

The one owner of the rules as loaded values (`RuleSpec`, and `RuleSet`: the rules that apply to one request with what
they ask of the usage, worked out once per cache entry); `vending.rules` evaluates them.

Any flush or commit that touches a Rule or a group membership in this process invalidates the cache at
once; rules changed by another process are picked up within `ttl` seconds (a backstop for several processes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time
from time import monotonic
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.prepared import FastWork, Prepared
from vending.models import GroupMember, Rule


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
    key: tuple[str, int, tuple[time, ...]] = field(init=False)  # the window's shape: rules sharing it share bounds

    def __post_init__(self) -> None:
        hours = self.rolling_hours if self.window == "rolling" else 0
        object.__setattr__(self, "key", (self.window, hours, self.shift_starts))


Target = tuple[int | None, str | None, int | None]  # what a rule counts: item, category, pooled group


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules in their order, with what they ask of the usage worked out once: the distinct window shapes (many rules
    share one) and targets, which each rule uses, and the pooled groups' reads. `vending.rules` reads it."""

    specs: tuple[RuleSpec, ...]
    shapes: tuple[RuleSpec, ...]  # one rule per distinct window shape (`RuleSpec.key`)
    shape_of: tuple[int, ...]  # per rule, the index of its shape
    targets: tuple[Target, ...]
    target_of: tuple[int, ...]  # per rule, the index of its target
    pooled: tuple[tuple[int, tuple[int, ...], int | None], ...]  # group, its rules' shapes, the one item they name
    targeted: bool  # every rule names an item or a category
    items: frozenset[int | None]
    categories: frozenset[str | None]

    @classmethod
    def of(cls, specs: Sequence[RuleSpec]) -> RuleSet:
        shapes: dict[tuple[str, int, tuple[time, ...]], int] = {}
        targets: dict[Target, int] = {}
        groups: dict[int, tuple[set[int], set[int | None]]] = {}
        for spec in specs:
            shape = shapes.setdefault(spec.key, len(shapes))
            targets.setdefault((spec.item_id, spec.category, spec.pooled_group_id), len(targets))
            if spec.pooled_group_id is not None:
                used, items = groups.setdefault(spec.pooled_group_id, (set(), set()))
                used.add(shape)
                items.add(spec.item_id)
        firsts = {spec.key: spec for spec in reversed(specs)}
        return cls(
            specs=tuple(specs),
            shapes=tuple(firsts[key] for key in shapes),
            shape_of=tuple(shapes[spec.key] for spec in specs),
            targets=tuple(targets),
            target_of=tuple(targets[(spec.item_id, spec.category, spec.pooled_group_id)] for spec in specs),
            pooled=tuple(
                (group, tuple(sorted(used)), next(iter(items)) if len(items) == 1 else None)
                for group, (used, items) in groups.items()
            ),
            targeted=all(spec.item_id is not None or spec.category is not None for spec in specs),
            items=frozenset(spec.item_id for spec in specs),
            categories=frozenset(spec.category for spec in specs),
        )


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


@dataclass(frozen=True, slots=True)
class ScopedRule:
    spec: RuleSpec
    site_id: int | None
    worker_id: int | None
    group_id: int | None


class RuleCache:
    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[str, tuple[int, float, list[ScopedRule], dict[int, frozenset[int]]]] = {}
        self._urls: dict[int, tuple[Any, str]] = {}  # id(engine) -> (engine, its URL): rendering a URL is not free
        # per cache entry, the rules that apply to one (site, worker, groups, item, category)
        self._applicable: dict[tuple[Any, ...], RuleSet] = {}
        self._applicable_entry: object = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1

    def applicable(
        self,
        session: Session | FastWork,
        *,
        site_id: int | None,
        worker_id: int,
        groups: set[int],
        item_id: int,
        category: str,
    ) -> list[RuleSpec]:
        found = self.applicable_with_members(
            session, site_id=site_id, worker_id=worker_id, groups=groups, item_id=item_id, category=category
        )[0]
        return list(found.specs)

    def applicable_with_members(
        self,
        session: Session | FastWork,
        *,
        site_id: int | None,
        worker_id: int,
        groups: set[int],
        item_id: int,
        category: str,
    ) -> tuple[RuleSet, dict[int, frozenset[int]]]:
        """`applicable` (as a RuleSet, kept with the entry) and `pooled_members` from one look-up of the cache (the
        rules.check path)."""
        entry = self._entry(session)
        key = (site_id, worker_id, frozenset(groups), item_id, category)
        with self._lock:
            if self._applicable_entry is not entry:
                self._applicable, self._applicable_entry = {}, entry
            found = self._applicable.get(key)
        if found is None:
            found = RuleSet.of(_applicable(entry[2], site_id, worker_id, groups, item_id, category))
            with self._lock:
                if self._applicable_entry is entry:
                    if len(self._applicable) > 10_000:
                        self._applicable.clear()
                    self._applicable[key] = found
        return found, entry[3]

    def pooled_members(self, session: Session | FastWork) -> dict[int, frozenset[int]]:
        """Workers of every group that has a pooled rule."""
        return self._entry(session)[3]

    def _rules(self, session: Session | FastWork) -> list[ScopedRule]:
        return self._entry(session)[2]

    def _url(self, work: FastWork) -> str:
        engine = work.engine
        known = self._urls.get(id(engine))
        if known is None or known[0] is not engine:
            known = (engine, str(engine.url))
            self._urls[id(engine)] = known
        return known[1]

    def _entry(self, session: Session | FastWork) -> tuple[int, float, list[ScopedRule], dict[int, frozenset[int]]]:
        work = FastWork.of(session)
        key = self._url(work)
        with self._lock:
            generation = self._generation
            entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and monotonic() - entry[1] < self.ttl:
            return entry
        rules = _load(work)
        pooled = {r.spec.pooled_group_id for r in rules if r.spec.pooled_group_id is not None}
        members: dict[int, frozenset[int]] = {g: frozenset() for g in pooled}
        if pooled:
            rows = work.all(_POOLED_MEMBERS)
            for group_id in pooled:
                members[group_id] = frozenset(w for g, w in rows if g == group_id)
        entry = (generation, monotonic(), rules, members)
        with self._lock:
            self._entries[key] = entry
        return entry


def _applicable(
    rules: list[ScopedRule], site_id: int | None, worker_id: int, groups: set[int], item_id: int, category: str
) -> list[RuleSpec]:
    found = []
    for rule in rules:
        if rule.site_id is not None and rule.site_id != site_id:
            continue
        if rule.worker_id is not None:
            if rule.worker_id != worker_id:
                continue
        elif rule.group_id is not None and rule.group_id not in groups:
            continue
        spec = rule.spec
        if spec.item_id is not None:
            if spec.item_id != item_id:
                continue
        elif spec.category is not None and spec.category != category:
            continue
        found.append(spec)
    return found


_R, _GM = Rule.__table__.c, GroupMember.__table__.c
_ACTIVE_RULES = Prepared(
    select(
        _R.id,
        _R.name,
        _R.quantity,
        _R.window,
        _R.rolling_hours,
        _R.shift_starts,
        _R.item_id,
        _R.category,
        _R.pooled,
        _R.site_id,
        _R.worker_id,
        _R.group_id,
    )
    .where(_R.active.is_(True))
    .order_by(_R.id)
)
_POOLED_MEMBERS = Prepared(  # members of every group that some active pooled rule counts together
    select(_GM.group_id, _GM.worker_id).where(
        _GM.group_id.in_(select(_R.group_id).where(_R.active.is_(True), _R.pooled.is_(True)))
    )
)


def _load(work: FastWork) -> list[ScopedRule]:
    return [
        ScopedRule(
            RuleSpec(
                id=rule_id,
                name=name,
                quantity=quantity,
                window=window,
                rolling_hours=rolling_hours,
                shift_starts=parse_shift_starts(shift_starts) if window == "shift" else (),
                item_id=item_id,
                category=category,
                pooled_group_id=group_id if pooled and group_id is not None else None,
            ),
            site_id,
            worker_id,
            group_id,
        )
        for (
            rule_id,
            name,
            quantity,
            window,
            rolling_hours,
            shift_starts,
            item_id,
            category,
            pooled,
            site_id,
            worker_id,
            group_id,
        ) in work.all(_ACTIVE_RULES)
    ]


CACHE = RuleCache()


def _touches_rules(session: Session) -> bool:
    return any(isinstance(obj, Rule | GroupMember) for obj in (*session.new, *session.dirty, *session.deleted))


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _context: Any) -> None:
    if _touches_rules(session):
        session.info["vending_rules_changed"] = True
        CACHE.invalidate()


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if session.info.pop("vending_rules_changed", False):
        CACHE.invalidate()
