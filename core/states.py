"""State machines as values: a StrEnum per status field and one helper that owns its transition table.

A `StateMachine` holds, for one status enum, the allowed transitions (each named by the service action
that performs it), a human label and a colour tone per state, and builds what every user needs from that
one table: the guard (`check` raising `InvalidTransition` naming current, target and allowed), the
compare-and-set UPDATE, the CHECK constraint for the column, and the `can(...)` that templates use to show
only the buttons that will work. The database stores the enum's string values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import CheckConstraint, ColumnElement, Update, bindparam, false, or_, update

from core import texts
from core.errors import InvalidTransition

TONES = frozenset({"neutral", "info", "good", "warn", "bad"})


class State(StrEnum):
    """Base of every status enum: `label` and `tone` come from the machine that registered the enum."""

    @property
    def label(self) -> str:
        return _LABELS.get(type(self), {}).get(self) or humanise(self.value)

    @property
    def tone(self) -> str:
        return _TONES.get(type(self), {}).get(self, "neutral")


S = TypeVar("S", bound=State)
_LABELS: dict[type[State], dict[State, str]] = {}
_TONES: dict[type[State], dict[State, str]] = {}


_SHOWN_VALUES: dict[str, str] = {}


def shown_as_labels(values: Iterable[str] | Mapping[str, str]) -> None:
    """Declare plain stored values (a machine kind, a ledger kind) that pages show through the `label` filter, with
    their English labels where the humanised value would not do ({"ok": "In service"}), so the labels are collected
    for translation like the states' own."""
    pairs = values.items() if isinstance(values, Mapping) else ((str(v), humanise(str(v))) for v in values)
    _SHOWN_VALUES.update(pairs)


def value_label(value: str) -> str:
    """The English label of a stored value: its declared label, else the label of the one state enum that has this
    value (a template showing `slot.state` from a row), else the humanised value (also when several enums share it:
    "open" is an alert's, a walk's and a request's)."""
    if declared := _SHOWN_VALUES.get(value):
        return declared
    owners = [labels.get(enum(value)) for enum, labels in _LABELS.items() if value in enum._value2member_map_]
    return (owners[0] if len(owners) == 1 else None) or humanise(value)


def labels_to_translate() -> set[str]:
    """Every label a page can show for a state or a declared value: the extraction's runtime messages."""
    found = {labels.get(member) or humanise(member.value) for enum, labels in _LABELS.items() for member in enum}
    return found | set(_SHOWN_VALUES.values())


def state_words(value: str, translate: Callable[..., str]) -> str:
    """A stored state as a sentence names it: the value itself in English ("pending_approval", what integrators
    match on), its translated label in another language (`translate` is the caller's gettext)."""
    label = value_label(value)
    shown = str(translate(label))
    return value if shown == label else shown


def _shown(value: str) -> str:
    """How a refusal names a state: the stored value in English, the translated label otherwise."""
    return state_words(value, texts.gettext)


def humanise(value: str) -> str:
    """'pending_approval' -> 'Pending approval': the fallback for a status with no label of its own."""
    text = value.replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """One status field's table: from-state -> {to-state: name of the action that performs it}."""

    subject: str  # how errors name the thing: N_("purchase order"), N_("dispense") (translated when raised)
    states: type[S]
    transitions: Mapping[S, Mapping[S, str]]
    labels: Mapping[S, str] = field(default_factory=dict)
    tones: Mapping[S, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [s for s in self.transitions if not isinstance(s, self.states)]
        unknown += [t for targets in self.transitions.values() for t in targets if not isinstance(t, self.states)]
        bad_tones = {tone for tone in self.tones.values() if tone not in TONES}
        if unknown or bad_tones:
            raise ValueError(f"{self.subject} state machine: unknown states {unknown} or tones {bad_tones}")
        _LABELS[self.states] = dict(self.labels.items())
        _TONES[self.states] = dict(self.tones.items())

    def allowed(self, current: S | str) -> frozenset[S]:
        return frozenset(self.transitions.get(self.states(current), {}))

    def can(self, current: S | str, target: S | str) -> bool:
        return self.states(target) in self.allowed(current)

    def action(self, current: S | str, target: S | str) -> str:
        """The action name for current -> target, or InvalidTransition naming both and what is allowed."""
        source, goal = self.states(current), self.states(target)
        targets = self.transitions.get(source, {})
        if goal not in targets:
            subject = texts.gettext(self.subject)
            raise InvalidTransition(subject, source.value, goal.value, frozenset(t.value for t in targets), _shown)
        return targets[goal]

    def check(self, name: object, current: S | str, target: S | str) -> str:
        """Like `action`, naming the instance in the error: `name` is a lazy message ("purchase order %(number)s"),
        so the refusal names it in the reader's language, or plain text shown as it is."""
        source, goal = self.states(current), self.states(target)
        targets = self.transitions.get(source, {})
        if goal not in targets:
            raise InvalidTransition(name, source.value, goal.value, frozenset(t.value for t in targets), _shown)
        return targets[goal]

    def move(self, row: Any, target: S | str, name: object, column: str = "status") -> S:
        """Set a loaded row's status column to `target` when the table allows it (InvalidTransition naming `name`
        otherwise); returns the state it left. The ORM's one way to change a status."""
        before = self.states(getattr(row, column))
        self.check(name, before, target)
        setattr(row, column, self.states(target).value)
        return before

    def sources(self, target: S | str) -> tuple[S, ...]:
        """Every state the table lets reach `target`, sorted: the WHERE of the compare-and-set."""
        goal = self.states(target)
        return tuple(sorted((s for s, targets in self.transitions.items() if goal in targets), key=str))

    def through(self, via: S | str, target: S | str) -> tuple[S, ...]:
        """The states that reach `target` by way of `via` in one step each, and `via` itself: the sources of a
        compare-and-set that records `via` and moves on to `target` at once. A table without via → target
        raises ValueError when the statement is built (not at the first row it meets)."""
        step, goal = self.states(via), self.states(target)
        if goal not in self.allowed(step):
            raise ValueError(f"{self.subject}: the table does not allow {step.value} -> {goal.value}")
        return tuple(sorted({*self.sources(step), step}, key=str))

    def compare_and_set(
        self, column: Any, key_column: Any, target: S | str, via: S | str | None = None, **values: Any
    ) -> Update:
        """UPDATE … SET status = target WHERE key = :key AND status IN (the sources the table allows).

        With `via`: from every state that reaches `target` through `via` (see `through`). Zero rows changed
        means another writer moved the row first (or the key is unknown).
        """
        goal = self.states(target)
        sources = self.sources(goal) if via is None else self.through(via, goal)
        # OR of equalities, not IN: an IN list would be expanded per execution, which a prepared statement cannot
        where: ColumnElement[bool] = or_(false(), *(column == s.value for s in sources))
        return (
            update(column.table)
            .where(key_column == _bind_key(key_column), where)
            .values({column.key: goal.value, **values})
        )

    def check_constraint(self, column_name: str, name: str | None = None) -> CheckConstraint:
        allowed = ", ".join(f"'{s.value}'" for s in self.states)
        return CheckConstraint(f"{column_name} IN ({allowed})", name=name or f"{column_name}_valid")

    def options(self, states: Iterable[S] | None = None) -> list[tuple[str, str]]:
        """(value, label) pairs for a filter's <select>, in declaration order."""
        return [(s.value, s.label) for s in (states if states is not None else self.states)]


def _bind_key(key_column: Any) -> Any:
    return bindparam("key", type_=key_column.type)
