"""Sending: PDF stored with its SHA-256 and e-mailed to a real local SMTP server (aiosmtpd) outside any
transaction; a database failure after the e-mail went out retries the recording, never the e-mail."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from email.message import EmailMessage

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.db import unit_of_work
from core.errors import Conflict, DomainError
from procurement import approval, orders, transmit, workflow
from procurement.models import PoDocument, Supplier, Transmission
from procurement.smtp_capture import SmtpCapture, free_port
from procurement.suppliers import supplier_by_code
from procurement.transmit_worker import RetryReport, retry_due
from tests.procurement.conftest import World

QUICK = transmit.RetryPolicy(record_pauses=(0.01, 0.01, 0.01))  # pauses between tries to record an outcome


def approved_po(world: World, supplier: str = "ACME", sku: str = "GLOVE", quantity: int = 36) -> str:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, supplier), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, sku, quantity, Decimal("9.20"), "user:bob", world.clock)
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        approval.approve(s, po.po_number, approval.Approver("user:ann", "ann", frozenset({"approver"})), world.clock)
        return po.po_number


def smtp_of(server: SmtpCapture) -> transmit.SmtpConfig:
    return transmit.SmtpConfig(server.host, server.port, "buy@plant.example")


def dead_smtp() -> transmit.SmtpConfig:
    return transmit.SmtpConfig("127.0.0.1", free_port(), "buy@plant.example", timeout=2)


def message_id_of(message: EmailMessage) -> str:
    return str(message["Message-ID"]).strip()  # a long header arrives folded, with its leading space


def transmission(world: World, number: str) -> Transmission:
    with world.session() as s:
        po = orders.get_po(s, number)
        row = s.scalar(select(Transmission).where(Transmission.po_id == po.id).order_by(Transmission.id.desc()))
        assert row is not None
        return row


def po_status(world: World, number: str) -> str:
    with world.session() as s:
        return orders.get_po(s, number).status


def actions(world: World, number: str) -> list[str]:
    with world.session() as s:
        return [h.action for h in audit.history(s, "purchase_order", number)]


@contextmanager
def refused_commits(factory: sessionmaker[Session], when: Callable[[], bool], times: int) -> Iterator[list[str]]:
    """The database refuses COMMIT `times` times once `when()` holds, as a dropped connection would.

    A fault of the database seen through SQLAlchemy's own `before_commit` hook; our code runs unchanged.
    """
    refused: list[str] = []

    def refuse(_session: Session) -> None:
        if len(refused) < times and when():
            refused.append("COMMIT")
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed the connection unexpectedly"))

    event.listen(factory, "before_commit", refuse)
    try:
        yield refused
    finally:
        event.remove(factory, "before_commit", refuse)


def test_send_emails_the_pdf_with_its_message_id_and_stores_its_hash(world: World) -> None:
    number = approved_po(world)
    with SmtpCapture() as server:
        result = transmit.send(world.factory, number, smtp_of(server), "user:bob", world.clock)
    assert result.status == "sent" and result.attempts == 1
    assert server.recipients == [["orders@acme.example"]]
    message = server.messages[0]
    assert message["Subject"] == f"Purchase order {number}"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"{number}.pdf"
    content = attachment.get_content()
    with world.session() as s:
        doc = s.scalar(select(PoDocument))
        assert doc is not None and doc.content == content
        assert doc.sha256 == hashlib.sha256(content).hexdigest() == result.sha256
    log = transmission(world, number)
    assert (log.status, log.attempts, log.document_id, log.requested_by) == ("sent", 1, doc.id, "user:bob")
    assert log.sent_at == world.clock.now() and log.claim_token is None and log.claimed_at is None
    assert message_id_of(message) == log.message_id == result.message_id and number in log.message_id
    assert po_status(world, number) == "sent"
    assert actions(world, number)[-1] == "po.send"


def test_a_commit_failure_after_delivery_records_again_and_never_emails_twice(world: World) -> None:
    number = approved_po(world)
    with SmtpCapture() as server, refused_commits(world.factory, lambda: bool(server.messages), 1) as refused:
        result = transmit.send(world.factory, number, smtp_of(server), "user:bob", world.clock, QUICK)
    assert refused == ["COMMIT"]  # transaction B failed once after the e-mail went out
    assert result.status == "sent" and len(server.messages) == 1
    assert transmission(world, number).status == "sent" and po_status(world, number) == "sent"
    assert actions(world, number).count("po.send") == 1


def test_a_database_away_after_delivery_is_recorded_later_not_delivered_again(world: World) -> None:
    number = approved_po(world)
    with SmtpCapture() as server:
        with refused_commits(world.factory, lambda: bool(server.messages), 10) as refused:
            result = transmit.send(world.factory, number, smtp_of(server), "user:bob", world.clock, QUICK)
            assert len(refused) == 1 + len(QUICK.record_pauses)
            assert result.status == "sending" and "e-mailed, but recording that failed" in result.error
            with pytest.raises(Conflict, match="was e-mailed; recording that is waiting"):
                transmit.send(world.factory, number, smtp_of(server), "user:bob", world.clock, QUICK)
            with pytest.raises(OperationalError):  # a worker round while the database is away (LoopWorker logs it)
                retry_due(world.factory, smtp_of(server), world.clock, QUICK)
        assert transmission(world, number).status == "sending" and po_status(world, number) == "approved"
        world.clock.advance(QUICK.claim_timeout * 2)  # long past the claim timeout: still not delivered again
        assert retry_due(world.factory, smtp_of(server), world.clock, QUICK) == RetryReport(recorded=1)
        assert retry_due(world.factory, smtp_of(server), world.clock, QUICK) == RetryReport()
    assert len(server.messages) == 1
    assert transmission(world, number).status == "sent" and po_status(world, number) == "sent"


def test_only_approved_orders_are_sent(world: World) -> None:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        number = po.po_number
    with pytest.raises(Conflict, match="only approved"):
        transmit.send(world.factory, number, transmit.SmtpConfig("127.0.0.1", 1, "x@y.z"), "user:bob", world.clock)
    with world.session() as s:
        assert s.scalar(select(Transmission)) is None and s.scalar(select(PoDocument)) is None


def test_a_supplier_without_address_is_refused_before_anything_is_stored(world: World) -> None:
    number = approved_po(world)
    with unit_of_work(world.factory) as s:
        supplier = s.scalar(select(Supplier).where(Supplier.code == "ACME"))
        assert supplier is not None
        supplier.email = ""
    with pytest.raises(DomainError, match="no e-mail address"):
        transmit.send(world.factory, number, dead_smtp(), "user:bob", world.clock)
    with world.session() as s:
        assert s.scalar(select(Transmission)) is None
