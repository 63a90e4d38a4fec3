"""Sending: PDF stored with its SHA-256 and e-mailed to a real local SMTP server (aiosmtpd); failures are logged."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import Conflict
from procurement import approval, orders, transmit
from procurement.models import PoDocument, Transmission
from procurement.smtp_capture import SmtpCapture, free_port
from procurement.suppliers import supplier_by_code
from tests.procurement.conftest import World


def _approved(world: World) -> str:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, "GLOVE", 36, Decimal("9.20"), "user:bob", world.clock)
        orders.submit(s, po.po_number, "user:bob", world.clock)
        approval.approve(s, po.po_number, approval.Approver("user:ann", "ann", frozenset({"approver"})), world.clock)
        return po.po_number


def test_send_emails_the_pdf_and_stores_its_hash(world: World) -> None:
    number = _approved(world)
    with SmtpCapture() as server, unit_of_work(world.factory) as s:
        result = transmit.send(s, number, transmit.SmtpConfig(server.host, server.port, "buy@plant.example"),
                               "user:bob", world.clock)  # fmt: skip
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
        assert orders.get_po(s, number).status == "sent"
        log = s.scalar(select(Transmission))
        assert log is not None and (log.status, log.attempts, log.document_id) == ("sent", 1, doc.id)


def test_unreachable_server_is_logged_with_retries_and_po_stays_approved(world: World) -> None:
    number = _approved(world)
    dead = transmit.SmtpConfig("127.0.0.1", free_port(), "buy@plant.example", timeout=2)
    with unit_of_work(world.factory) as s:
        result = transmit.send(s, number, dead, "user:bob", world.clock)
    assert result.status == "failed" and result.attempts == transmit.MAX_ATTEMPTS
    assert "ConnectionRefusedError" in result.error
    with world.session() as s:
        log = s.scalar(select(Transmission))
        assert log is not None and log.status == "failed" and log.attempts == 3
        assert orders.get_po(s, number).status == "approved"
    with SmtpCapture() as server, unit_of_work(world.factory) as s:  # retry later: the same log row continues
        again = transmit.send(s, number, transmit.SmtpConfig(server.host, server.port, "b@p.example"), "user:bob",
                              world.clock)  # fmt: skip
    assert again.status == "sent" and again.attempts == 4


def test_only_approved_orders_are_sent(world: World) -> None:
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        number = po.po_number
    with pytest.raises(Conflict, match="only approved"), unit_of_work(world.factory) as s:
        transmit.send(s, number, transmit.SmtpConfig("127.0.0.1", 1, "x@y.z"), "user:bob", world.clock)
