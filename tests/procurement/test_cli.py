"""`vendtrack procurement replenish | pdf | send` through the real CLI group."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from procurement import approval
from procurement.models import PurchaseOrder
from procurement.smtp_capture import SmtpCapture, free_port
from tests.procurement.conftest import seed_world
from tests.procurement.test_transmit import approved_po


@pytest.mark.sqlite_only
def test_replenish_pdf_send(app: Flask, tmp_path: Path) -> None:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory, ManualClock(SystemClock().now()))
    world.publish(world.level("DRILL", 3))
    world.deliver()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["procurement", "replenish"])
    assert result.exit_code == 0, result.output
    assert "1 new lines" in result.output and "pending_approval" in result.output
    with unit_of_work(factory) as s:
        number = s.scalar(select(PurchaseOrder.po_number))
        assert number is not None
        approval.approve(s, number, approval.Approver("user:ann", "ann", frozenset({"approver"})), world.clock)
    out = tmp_path / "po.pdf"
    result = runner.invoke(args=["procurement", "pdf", number, "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF")
    assert runner.invoke(args=["procurement", "pdf", "PO-999999", "-o", str(out)]).output.count("no purchase order")
    settings = app.extensions["vendtrack"].settings
    with SmtpCapture() as server:
        settings.smtp_host, settings.smtp_port = server.host, server.port
        result = runner.invoke(args=["procurement", "send", number])
    assert result.exit_code == 0, result.output
    assert f"{number} sent to" in result.output and len(server.messages) == 1


def test_send_when_smtp_is_down_then_retry_sends(database_url: str, tmp_path: Path) -> None:
    from web.app import create_app

    clock = ManualClock(SystemClock().now())
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "CLOCK": clock})  # fmt: skip
    number = approved_po(seed_world(app.extensions["vendtrack"].session_factory, clock))
    settings = app.extensions["vendtrack"].settings
    settings.smtp_host, settings.smtp_port = "127.0.0.1", free_port()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["procurement", "send", number])
    assert result.exit_code == 1 and "ConnectionRefusedError" in result.output
    assert "the background worker of `vendtrack serve` tries again from" in result.output
    with SmtpCapture() as server:
        settings.smtp_host, settings.smtp_port = server.host, server.port
        assert "sent 0," in runner.invoke(args=["procurement", "retry-sends"]).output  # not due yet
        clock.advance(minutes=1)
        result = runner.invoke(args=["procurement", "retry-sends"])
    assert result.exit_code == 0 and result.output.startswith("sent 1, queued again 0")
    assert len(server.messages) == 1
