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
from procurement.smtp_capture import SmtpCapture
from tests.procurement.conftest import seed_world


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
