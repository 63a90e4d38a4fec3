"""In-process cache of the active rules (and pooled groups' members): no rule query per dispense.

Any flush or commit that touches a Rule or a group membership in this process invalidates the cache at
once; rules changed by another process are picked up within `ttl` seconds (a backstop for several processes).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from vending.models import GroupMember, Rule
from vending.rules import RuleSpec, parse_shift_starts


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
        self._applicable: dict[tuple[Any, ...], list[RuleSpec]] = {}
        self._applicable_entry: object = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1

    def applicable(
        self, session: Session, *, site_id: int | None, worker_id: int, groups: set[int], item_id: int, category: str
    ) -> list[RuleSpec]:
        return self.applicable_with_members(
            session, site_id=site_id, worker_id=worker_id, groups=groups, item_id=item_id, category=category
        )[0]

    def applicable_with_members(
        self, session: Session, *, site_id: int | None, worker_id: int, groups: set[int], item_id: int, category: str
    ) -> tuple[list[RuleSpec], dict[int, frozenset[int]]]:
        """`applicable` and `pooled_members` from one look-up of the cache (the rules.check path)."""
        entry = self._entry(session)
        key = (site_id, worker_id, frozenset(groups), item_id, category)
        with self._lock:
            if self._applicable_entry is not entry:
                self._applicable, self._applicable_entry = {}, entry
            found = self._applicable.get(key)
        if found is None:
            found = _applicable(entry[2], site_id, worker_id, groups, item_id, category)
            with self._lock:
                if self._applicable_entry is entry:
                    if len(self._applicable) > 10_000:
                        self._applicable.clear()
                    self._applicable[key] = found
        return list(found), entry[3]

    def pooled_members(self, session: Session) -> dict[int, frozenset[int]]:
        """Workers of every group that has a pooled rule."""
        return self._entry(session)[3]

    def _rules(self, session: Session) -> list[ScopedRule]:
        return self._entry(session)[2]

    def _url(self, session: Session) -> str:
        engine = session.get_bind().engine
        known = self._urls.get(id(engine))
        if known is None or known[0] is not engine:
            known = (engine, str(engine.url))
            self._urls[id(engine)] = known
        return known[1]

    def _entry(self, session: Session) -> tuple[int, float, list[ScopedRule], dict[int, frozenset[int]]]:
        key = self._url(session)
        with self._lock:
            generation = self._generation
            entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and time.monotonic() - entry[1] < self.ttl:
            return entry
        rules = _load(session)
        pooled = {r.spec.pooled_group_id for r in rules if r.spec.pooled_group_id is not None}
        members: dict[int, frozenset[int]] = {g: frozenset() for g in pooled}
        if pooled:
            rows = session.execute(
                select(GroupMember.group_id, GroupMember.worker_id).where(GroupMember.group_id.in_(pooled))
            ).all()
            for group_id in pooled:
                members[group_id] = frozenset(w for g, w in rows if g == group_id)
        entry = (generation, time.monotonic(), rules, members)
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


def _load(session: Session) -> list[ScopedRule]:
    rows = session.execute(
        select(
            Rule.id,
            Rule.name,
            Rule.quantity,
            Rule.window,
            Rule.rolling_hours,
            Rule.shift_starts,
            Rule.item_id,
            Rule.category,
            Rule.pooled,
            Rule.site_id,
            Rule.worker_id,
            Rule.group_id,
        )
        .where(Rule.active.is_(True))
        .order_by(Rule.id)
    ).all()
    return [
        ScopedRule(
            RuleSpec(
                id=r.id,
                name=r.name,
                quantity=r.quantity,
                window=r.window,
                rolling_hours=r.rolling_hours,
                shift_starts=parse_shift_starts(r.shift_starts) if r.window == "shift" else (),
                item_id=r.item_id,
                category=r.category,
                pooled_group_id=r.group_id if r.pooled and r.group_id is not None else None,
            ),
            r.site_id,
            r.worker_id,
            r.group_id,
        )
        for r in rows
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
