"""Durable outbox: events are written with the change that caused them and delivered exactly once.

Every consumer's effect and its processed-marker commit in one transaction (a savepoint per event
inside a batch transaction); failures retry with exponential backoff and end as dead letters after
`max_attempts`. On PostgreSQL, workers claim events with FOR UPDATE SKIP LOCKED so several dispatchers
share the load; on SQLite writers are serialised by BEGIN IMMEDIATE. A unique (event, consumer)
marker is the final guard against doubled effects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, SystemClock, utc
from core.consumers import Consumer, ConsumerRegistry
from core.events import Event, from_json
from core.outbox_tables import DEAD, DELIVERY, DONE, RETRY, DeliveryStatus, OutboxDelivery, OutboxEvent
from core.prepared import FastWork, Prepared

__all__ = [  # the tables, states and registry are re-exported: callers import them from the outbox
    "DEAD", "DELIVERY", "DONE", "RETRY", "Consumer", "ConsumerRegistry", "DeliveryStatus", "Dispatcher",
    "OutboxDelivery", "OutboxEvent", "publish",
]  # fmt: skip

log = logging.getLogger(__name__)


SKIPPED = "skipped: delivered by another worker"
MAX_BACKOFF_SECONDS = 300.0


_wakeup = threading.Event()
_PUBLISHED = "outbox_published"  # Session.info flag: wake the dispatchers after this Session commits
_INSERT = Prepared(
    insert(OutboxEvent).values(
        event_key=bindparam("p_key"),
        event_type=bindparam("p_type"),
        version=bindparam("p_version"),
        payload=bindparam("p_payload"),
        created_at=bindparam("p_at"),
    )
)


def publish(session: Session | FastWork, *events: Event) -> None:
    """Write `events` to the outbox in the caller's transaction (a Session's or a fast unit of work's); they are
    delivered after it commits, and this process's dispatchers wake then.

    One prepared INSERT (several events: one executemany), no ORM object to track and flush: a dispense
    publishes two events on its hot path."""
    if not events:
        return
    work = FastWork.of(session)
    rows = [
        {
            "p_key": evt.event_id,
            "p_type": evt.event_type,
            "p_version": evt.version,
            "p_payload": evt.to_json(),
            "p_at": evt.occurred_at,
        }
        for evt in events
    ]
    if len(rows) == 1:
        work.execute(_INSERT, rows[0]).close()
    else:
        work.execute_many(_INSERT, rows)
    work.on_commit(_wakeup.set, _PUBLISHED)


@event.listens_for(Session, "after_commit")
def _wake_dispatchers(session: Session) -> None:
    # One class-level listener: attaching a listener per session costs more than the publish itself.
    if session.info.pop(_PUBLISHED, False):
        _wakeup.set()


def _settled_for(consumer: str) -> Any:
    """Events this consumer is done with (delivered or a dead letter): the rest is what it still owes."""
    return exists().where(
        OutboxDelivery.event_id == OutboxEvent.id,
        OutboxDelivery.consumer == consumer,
        OutboxDelivery.status.in_((DONE.value, DEAD.value)),
    )


@dataclass(frozen=True, slots=True)
class DispatchReport:
    delivered: int
    failed: int
    dead: int


class Dispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        registry: ConsumerRegistry,
        clock: Clock | None = None,
        max_attempts: int = 8,
        backoff_seconds: float = 2.0,
        batch_size: int = 50,
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.clock = clock or SystemClock()
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.batch_size = batch_size

    def run_once(self) -> DispatchReport:
        delivered = failed = dead = 0
        for consumer in self.registry:
            report = self._run_consumer(consumer)
            delivered += report.delivered
            failed += report.failed
            dead += report.dead
        return DispatchReport(delivered, failed, dead)

    def drain(self, max_rounds: int = 1000) -> DispatchReport:
        """Deliver until nothing is due (retries scheduled in the future are left for later)."""
        total = DispatchReport(0, 0, 0)
        for _ in range(max_rounds):
            report = self.run_once()
            total = DispatchReport(
                total.delivered + report.delivered, total.failed + report.failed, total.dead + report.dead
            )
            if report.delivered == 0 and report.failed == 0:
                break
        return total

    def run_forever(
        self, stop: threading.Event, poll_seconds: float = 0.5, on_beat: Callable[[], None] | None = None
    ) -> None:
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # a database outage must not kill the worker thread
                log.exception("outbox dispatcher round failed; retrying")
                report = DispatchReport(0, 0, 0)
            if on_beat:
                on_beat()
            if report.delivered == 0 and report.failed == 0:
                _wakeup.wait(poll_seconds)
                _wakeup.clear()

    def _due_events(self, session: Session, consumer: Consumer, now: datetime) -> list[OutboxEvent]:
        if consumer.ordered:
            return self._due_in_order(session, consumer, now)
        blocked = exists().where(
            OutboxDelivery.event_id == OutboxEvent.id,
            OutboxDelivery.consumer == consumer.name,
            (OutboxDelivery.status != RETRY) | (OutboxDelivery.next_attempt_at > now),
        )
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.event_type.in_(consumer.event_types), ~blocked)
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=OutboxEvent)
        )
        return list(session.scalars(query))

    def _due_in_order(self, session: Session, consumer: Consumer, now: datetime) -> list[OutboxEvent]:
        """The next events after the last one delivered, oldest first; none while the oldest waits for a retry."""
        held = session.execute(
            select(OutboxDelivery.event_id, OutboxDelivery.next_attempt_at)
            .where(OutboxDelivery.consumer == consumer.name, OutboxDelivery.status == RETRY)
            .order_by(OutboxDelivery.event_id)
            .limit(1)
        ).first()
        if held is not None and held[1] is not None and held[1] > now:
            return []
        settled = _settled_for(consumer.name)
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.event_type.in_(consumer.event_types), ~settled)
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
            .with_for_update(of=OutboxEvent)  # in order means one dispatcher at a time: no SKIP LOCKED here
        )
        return list(session.scalars(query))

    def _run_consumer(self, consumer: Consumer) -> DispatchReport:
        delivered = failed = dead = 0
        now = self.clock.now()
        session = self.session_factory()
        try:
            rows = self._due_events(session, consumer, now)
            failures: list[tuple[int, str]] = []
            for row in rows:
                outcome = self._deliver_one(session, consumer, row, now)
                if outcome is None:
                    delivered += 1
                elif outcome is not SKIPPED:
                    failures.append((row.id, outcome))
                    if consumer.ordered:
                        break  # later events wait behind this one
            for event_id, error in failures:
                if self._record_failure(session, consumer, event_id, error, now):
                    dead += 1
                failed += 1
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        return DispatchReport(delivered, failed, dead)

    def _deliver_one(self, session: Session, consumer: Consumer, row: OutboxEvent, now: datetime) -> str | None:
        """Run the handler and write the marker in one savepoint; return the error text on failure.

        The marker is read again *after* the event row is locked: a worker whose query snapshot predates
        another worker's commit would otherwise run the handler a second time.
        """
        marker = session.scalar(
            select(OutboxDelivery).where(OutboxDelivery.event_id == row.id, OutboxDelivery.consumer == consumer.name)
        )
        if marker is not None and marker.status != RETRY:
            return SKIPPED
        try:
            evt = from_json(row.payload)
            with session.begin_nested():
                consumer.handle(session, evt)
                if marker is None:
                    session.add(
                        OutboxDelivery(
                            event_id=row.id,
                            consumer=consumer.name,
                            status=DONE,
                            attempts=1,
                            updated_at=now,
                            last_error="",
                        )
                    )
                else:
                    DELIVERY.check(f"delivery of event {row.id} to {consumer.name}", marker.status, DONE)
                    marker.status, marker.attempts, marker.updated_at = DONE, marker.attempts + 1, now
                    marker.next_attempt_at = None
                session.flush()
            return None
        except IntegrityError:
            log.info("event %s already delivered to %s by another worker", row.event_key, consumer.name)
            return SKIPPED
        except Exception as exc:
            log.warning("consumer %s failed on event %s: %s", consumer.name, row.event_key, exc)
            return f"{type(exc).__name__}: {exc}"[:2000]

    def _record_failure(self, session: Session, consumer: Consumer, event_id: int, error: str, now: datetime) -> bool:
        marker = session.scalar(
            select(OutboxDelivery).where(OutboxDelivery.event_id == event_id, OutboxDelivery.consumer == consumer.name)
        )
        if marker is None:
            marker = OutboxDelivery(
                event_id=event_id, consumer=consumer.name, status=RETRY, attempts=0, updated_at=now, last_error=""
            )
            session.add(marker)
        marker.attempts += 1
        marker.last_error = error
        marker.updated_at = now
        name = f"delivery of event {event_id} to {consumer.name}"
        if marker.attempts >= self.max_attempts and not consumer.retry_forever:
            DELIVERY.check(name, marker.status, DEAD)
            marker.status, marker.next_attempt_at = DEAD, None
            log.error("event %s is a dead letter for %s after %d tries: %s", event_id, consumer, marker.attempts, error)
            return True
        delay = min(self.backoff_seconds * 2 ** min(marker.attempts - 1, 30), MAX_BACKOFF_SECONDS)
        DELIVERY.check(name, marker.status, RETRY)
        marker.status, marker.next_attempt_at = RETRY, now + timedelta(seconds=delay)
        return False


# ---- inspection for /healthz and the admin page -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: int
    event_key: str
    event_type: str
    consumer: str
    attempts: int
    last_error: str
    updated_at: datetime


def backlog(session: Session, registry: ConsumerRegistry) -> int:
    """How many (event, consumer) deliveries are still owed, including scheduled retries."""
    total = 0
    for consumer in registry:
        terminal = _settled_for(consumer.name)
        total += (
            session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.event_type.in_(consumer.event_types), ~terminal)
            )
            or 0
        )
    return total


@dataclass(frozen=True, slots=True)
class ConsumerBacklog:
    consumer: str
    waiting: int  # events not yet delivered (retries included)
    oldest: datetime | None  # when the oldest of them happened
    last_error: str  # of the delivery waiting for a retry, if any
    next_attempt_at: datetime | None


def consumer_backlogs(session: Session, registry: ConsumerRegistry) -> list[ConsumerBacklog]:
    """Per consumer: what it still owes, since when, and why it is stuck (the admin page and /healthz)."""
    found = []
    for consumer in registry:
        terminal = _settled_for(consumer.name)
        waiting, oldest = session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.event_type.in_(consumer.event_types), ~terminal
            )
        ).one()
        retry = session.execute(
            select(OutboxDelivery.last_error, OutboxDelivery.next_attempt_at)
            .where(OutboxDelivery.consumer == consumer.name, OutboxDelivery.status == RETRY)
            .order_by(OutboxDelivery.event_id)
            .limit(1)
        ).first()
        found.append(
            ConsumerBacklog(
                consumer.name,
                int(waiting or 0),
                utc(oldest) if oldest is not None else None,
                retry[0] if retry else "",
                utc(retry[1]) if retry and retry[1] is not None else None,
            )
        )
    return found


def dead_letter_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxDelivery).where(OutboxDelivery.status == DEAD)) or 0


def dead_letters(session: Session, limit: int = 200) -> list[DeadLetter]:
    rows = session.execute(
        select(OutboxDelivery, OutboxEvent)
        .join(OutboxEvent, and_(OutboxEvent.id == OutboxDelivery.event_id))
        .where(OutboxDelivery.status == DEAD)
        .order_by(OutboxDelivery.id.desc())
        .limit(limit)
    )
    return [
        DeadLetter(e.id, e.event_key, e.event_type, d.consumer, d.attempts, d.last_error, d.updated_at) for d, e in rows
    ]


def retry_dead_letters(session: Session, clock: Clock | None = None) -> int:
    """Send every dead letter back for another round of attempts; returns how many."""
    now = (clock or SystemClock()).now()
    DELIVERY.check("a dead letter", DEAD, RETRY)
    result = session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.status == DEAD)
        .values(status=RETRY, attempts=0, next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
