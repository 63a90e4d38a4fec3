"""Outbox consumers: what a domain registers to receive events (by type, in order or not) when the app is composed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.events import Event

Handler = Callable[[Session, Event], None]


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    event_types: frozenset[str]
    handle: Handler
    # ordered: events are delivered strictly in outbox order; a failure holds back every later event (a
    # forwarder must not let a newer stock level overtake an older one). retry_forever: never a dead letter.
    ordered: bool = False
    retry_forever: bool = False


class ConsumerRegistry:
    """The consumers this process delivers to; domains register theirs when the app is composed."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def register(
        self,
        name: str,
        event_types: Iterable[str],
        handle: Handler,
        *,
        ordered: bool = False,
        retry_forever: bool = False,
    ) -> None:
        if name in self._consumers:
            raise ValueError(f"consumer {name!r} is registered twice")
        self._consumers[name] = Consumer(name, frozenset(event_types), handle, ordered, retry_forever)

    def __iter__(self) -> Any:
        return iter(self._consumers.values())

    def __len__(self) -> int:
        return len(self._consumers)

    def names(self) -> list[str]:
        return sorted(self._consumers)
