"""The background retry of PO e-mails, driven step by step on a ManualClock: backoff, giving up, manual resend,
stale claims, racing workers; a real local SMTP server (aiosmtpd) receives what is sent."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from core.db import unit_of_work
from core.errors import Conflict
from procurement import orders, transmit, workflow
from procurement.models import PoDocument
from procurement.smtp_capture import SmtpCapture
from procurement.transmit_worker import RetryReport, retry_due
from tests.procurement.conftest import World
from tests.procurement.test_transmit import (
    actions,
    approved_po,
    dead_smtp,
    message_id_of,
    po_status,
    smtp_of,
    transmission,
)


def test_smtp_down_queues_with_backoff_then_the_worker_delivers(world: World) -> None:
    number = approved_po(world)
    first = transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock)
    assert first.status == "queued" and first.attempts == 1 and "ConnectionRefusedError" in first.error
    assert first.next_attempt_at == world.clock.now() + timedelta(minutes=1)
    log = transmission(world, number)
    assert (log.status, log.attempts, log.next_attempt_at, log.claim_token) == ("queued", 1, first.next_attempt_at,
                                                                                None)  # fmt: skip
    assert po_status(world, number) == "approved"
    assert retry_due(world.factory, dead_smtp(), world.clock) == RetryReport()  # not due yet
    world.clock.advance(minutes=1)
    assert retry_due(world.factory, dead_smtp(), world.clock) == RetryReport(queued=1)
    log = transmission(world, number)
    assert log.attempts == 2 and log.next_attempt_at == world.clock.now() + timedelta(minutes=2)  # 1, 2, 4 …
    with SmtpCapture() as server:
        world.clock.advance(minutes=1)
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport()
        world.clock.advance(minutes=1)
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport(sent=1)
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport()
    assert len(server.messages) == 1 and message_id_of(server.messages[0]) == first.message_id
    log = transmission(world, number)
    assert (log.status, log.attempts, log.last_error, log.next_attempt_at) == ("sent", 3, "", None)
    assert po_status(world, number) == "sent" and actions(world, number).count("po.send") == 1


def test_retries_stop_after_the_maximum_and_a_manual_resend_works(world: World) -> None:
    policy = transmit.RetryPolicy(max_attempts=3)
    number = approved_po(world)
    message_id = transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock, policy).message_id
    for wait in (1, 2):
        world.clock.advance(minutes=wait)
        retry_due(world.factory, dead_smtp(), world.clock, policy)
    log = transmission(world, number)
    assert (log.status, log.attempts, log.next_attempt_at) == ("failed", 3, None)
    assert "po.send_failed" in actions(world, number) and po_status(world, number) == "approved"
    world.clock.advance(days=1)
    with SmtpCapture() as server:
        assert retry_due(world.factory, smtp_of(server), world.clock, policy) == RetryReport()  # a person decides
        assert server.messages == []
        again = transmit.send(world.factory, number, smtp_of(server), "user:carl", world.clock, policy)
    assert again.status == "sent" and again.attempts == 1  # a manual send starts a new series of attempts
    assert len(server.messages) == 1 and message_id_of(server.messages[0]) == message_id
    assert actions(world, number)[-2:] == ["po.resend", "po.send"]
    assert transmission(world, number).requested_by == "user:carl"


def test_a_stale_sending_claim_is_retried_with_the_same_message_id(world: World) -> None:
    number = approved_po(world)
    with SmtpCapture() as server:
        claim = transmit.begin(world.factory, number, smtp_of(server), "user:bob", world.clock)  # then the process dies
        assert transmission(world, number).status == "sending"
        with pytest.raises(Conflict, match="being e-mailed right now"):
            transmit.send(world.factory, number, smtp_of(server), "user:bob", world.clock)
        world.clock.advance(transmit.DEFAULT_POLICY.claim_timeout - timedelta(seconds=1))
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport()  # a live sender is left alone
        world.clock.advance(seconds=1)
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport(sent=1)
        late = transmit.finish(world.factory, claim, "", world.clock)  # the old process wakes up and reports
    assert len(server.messages) == 1 and message_id_of(server.messages[0]) == claim.message_id
    assert late.status == "sent" and transmission(world, number).attempts == 2
    assert actions(world, number).count("po.send") == 1


def test_a_queued_retry_stops_when_the_po_is_cancelled(world: World) -> None:
    number = approved_po(world)
    transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock)
    with unit_of_work(world.factory) as s:
        orders.cancel(s, number, "user:bob", world.clock, "ordered by phone instead")
    world.clock.advance(minutes=5)
    with SmtpCapture() as server:
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport(stopped=1)
    assert server.messages == []
    log = transmission(world, number)
    assert log.status == "failed" and "is cancelled" in log.last_error


def test_a_retry_carries_the_po_as_it_is_now(world: World) -> None:
    number = approved_po(world)
    first = transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock)
    with unit_of_work(world.factory) as s:  # a cheaper price keeps the order approved
        workflow.edit_line(s, number, 1, 36, Decimal("9.00"), "user:bob", world.clock)
    assert po_status(world, number) == "approved"
    world.clock.advance(minutes=1)
    with SmtpCapture() as server:
        assert retry_due(world.factory, smtp_of(server), world.clock) == RetryReport(sent=1)
    content = next(server.messages[0].iter_attachments()).get_content()
    digest = hashlib.sha256(content).hexdigest()
    assert digest != first.sha256 and message_id_of(server.messages[0]) == first.message_id
    with world.session() as s:
        doc = s.get(PoDocument, transmission(world, number).document_id)
        assert doc is not None and doc.sha256 == digest


def test_racing_workers_send_each_due_transmission_once(world: World) -> None:
    numbers = [approved_po(world, quantity=q) for q in (6, 12, 18, 24)]
    for number in numbers:
        transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock)
    world.clock.advance(minutes=1)
    workers = 4
    barrier = threading.Barrier(workers)
    reports: list[RetryReport] = []
    errors: list[BaseException] = []
    with SmtpCapture() as server:

        def work() -> None:
            try:
                barrier.wait()
                reports.append(retry_due(world.factory, smtp_of(server), world.clock))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert sorted(m["Subject"] for m in server.messages) == sorted(f"Purchase order {n}" for n in numbers)
    assert sum(r.sent for r in reports) == len(numbers)
    assert all(po_status(world, n) == "sent" for n in numbers)
