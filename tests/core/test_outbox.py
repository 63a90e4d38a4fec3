"""Outbox delivery: exactly once per consumer, retries with backoff, dead letters, concurrent workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.events import Event, ItemDispensed
from core.outbox import (
    ConsumerRegistry,
    Dispatcher,
    OutboxDelivery,
    backlog,
    dead_letter_count,
    dead_letters,
    publish,
    retry_dead_letters,
)
from tests.support import DeliveryEffect


def _dispensed(clock: ManualClock, n: int) -> ItemDispensed:
    return ItemDispensed(
        occurred_at=clock.now(), site_code="S1", sku=f"SKU-{n}", quantity=1, worker="w", machine="m", slot="A1"
    )


def _publish(factory: sessionmaker[Session], clock: ManualClock, count: int) -> None:
    with factory() as session:
        for n in range(count):
            publish(session, _dispensed(clock, n))
        session.commit()


def _effects(factory: sessionmaker[Session], consumer: str) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(DeliveryEffect.event_id).where(DeliveryEffect.consumer == consumer)))


def _recorder(name: str):  # type: ignore[no-untyped-def]
    def handle(session: Session, evt: Event) -> None:
        session.add(DeliveryEffect(consumer=name, event_id=evt.event_id))

    return handle


def test_each_consumer_gets_each_event_once(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock()
    registry = ConsumerRegistry()
    registry.register("a", ["vending.item_dispensed"], _recorder("a"))
    registry.register("b", ["vending.item_dispensed"], _recorder("b"))
    registry.register("c", ["tracking.asset_moved"], _recorder("c"))
    _publish(session_factory, clock, 7)
    dispatcher = Dispatcher(session_factory, registry, clock, batch_size=3)
    report = dispatcher.drain()
    assert report.delivered == 14
    dispatcher.drain()
    assert len(_effects(session_factory, "a")) == len(set(_effects(session_factory, "a"))) == 7
    assert len(_effects(session_factory, "b")) == 7
    assert _effects(session_factory, "c") == []
    with session_factory() as session:
        assert backlog(session, registry) == 0


def test_failures_retry_with_backoff_then_dead_letter(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock()
    registry = ConsumerRegistry()
    calls: list[str] = []

    def always_fails(session: Session, evt: Event) -> None:
        calls.append(evt.event_id)
        session.add(DeliveryEffect(consumer="bad", event_id=evt.event_id))  # partial effect, must be undone
        raise RuntimeError("supplier system down")

    registry.register("bad", ["vending.item_dispensed"], always_fails)
    _publish(session_factory, clock, 1)
    dispatcher = Dispatcher(session_factory, registry, clock, max_attempts=3, backoff_seconds=10)
    assert dispatcher.run_once().failed == 1
    assert dispatcher.run_once().failed == 0, "retry must wait for its backoff"
    clock.advance(seconds=10)
    assert dispatcher.run_once().failed == 1
    clock.advance(seconds=19)
    assert dispatcher.run_once().failed == 0, "second backoff is doubled to 20 s"
    clock.advance(seconds=1)
    report = dispatcher.run_once()
    assert report.failed == 1 and report.dead == 1
    clock.advance(hours=1)
    assert dispatcher.run_once().failed == 0, "dead letters are not retried on their own"
    assert len(calls) == 3
    assert _effects(session_factory, "bad") == []
    with session_factory() as session:
        assert dead_letter_count(session) == 1
        letter = dead_letters(session)[0]
        assert letter.attempts == 3 and "supplier system down" in letter.last_error
        assert retry_dead_letters(session, clock) == 1
        session.commit()
    assert dispatcher.run_once().failed == 1


def test_a_recovering_consumer_delivers_once(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock()
    registry = ConsumerRegistry()
    state = {"fail": True}

    def flaky(session: Session, evt: Event) -> None:
        session.add(DeliveryEffect(consumer="flaky", event_id=evt.event_id))
        if state["fail"]:
            raise ConnectionError("boom")

    registry.register("flaky", ["vending.item_dispensed"], flaky)
    _publish(session_factory, clock, 4)
    dispatcher = Dispatcher(session_factory, registry, clock, backoff_seconds=1)
    dispatcher.run_once()
    state["fail"] = False
    clock.advance(seconds=2)
    dispatcher.drain()
    effects = _effects(session_factory, "flaky")
    assert len(effects) == 4 and len(set(effects)) == 4
    with session_factory() as session:
        statuses = set(session.scalars(select(OutboxDelivery.status)))
        assert statuses == {"done"}


def test_unpublished_transaction_delivers_nothing(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock()
    registry = ConsumerRegistry()
    registry.register("a", ["vending.item_dispensed"], _recorder("a"))
    with session_factory() as session:
        publish(session, _dispensed(clock, 1))
        session.rollback()
    assert Dispatcher(session_factory, registry, clock).drain().delivered == 0


def test_two_workers_with_a_crashing_consumer_deliver_exactly_once(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """Two dispatcher threads share the outbox; the consumer crashes midway through some events."""
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent SKIP LOCKED workers are a PostgreSQL feature; SQLite serialises writers")
    clock = ManualClock()
    registry = ConsumerRegistry()
    crashed: set[str] = set()
    lock = threading.Lock()

    def crashes_first_time_on_every_third(session: Session, evt: Event) -> None:
        session.add(DeliveryEffect(consumer="x", event_id=evt.event_id))
        session.flush()  # the effect reaches the database before the crash
        assert isinstance(evt, ItemDispensed)
        if int(evt.sku.split("-")[1]) % 3 == 0:
            with lock:
                first = evt.event_id not in crashed
                crashed.add(evt.event_id)
            if first:
                raise RuntimeError("consumer crashed midway")

    registry.register("x", ["vending.item_dispensed"], crashes_first_time_on_every_third)
    registry.register("y", ["vending.item_dispensed"], _recorder("y"))
    total = 300
    _publish(session_factory, clock, total)
    dispatchers = [Dispatcher(session_factory, registry, clock, backoff_seconds=0.0, batch_size=7) for _ in range(2)]
    delivered = [0, 0]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for _ in range(200):
                report = dispatchers[index].run_once()
                delivered[index] += report.delivered
                with session_factory() as session:
                    if backlog(session, registry) == 0:
                        return
        except BaseException as exc:  # surface thread failures in the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(count > 0 for count in delivered), f"both workers should share the load: {delivered}"
    for consumer in ("x", "y"):
        effects = _effects(session_factory, consumer)
        assert len(effects) == total, f"{consumer}: {len(effects)} effects for {total} events"
        assert len(set(effects)) == total
    assert len(crashed) == total // 3
    with session_factory() as session:
        done = session.scalar(select(func.count()).select_from(OutboxDelivery).where(OutboxDelivery.status == "done"))
        assert done == 2 * total
    clock.advance(timedelta(seconds=1))
