"""The monthly chargeback e-mail, sent to a real SMTP server (aiosmtpd): once per month, figures equal the report."""

from __future__ import annotations

import csv
import io
import socket
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.settings import Settings
from procurement.smtp_capture import SmtpCapture
from tests.vending.conftest import seed_world
from vending import chargeback, charges, ledger, usage
from vending.models import ChargebackRun

DECEMBER_2ND = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def _seed(factory: sessionmaker[Session]) -> None:
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        charges.add_code(s, world.site_id, "cost_center", "CC-100", "Assembly line")
        for n, (slot, qty, center, day) in enumerate(
            [("A1", 2, "CC-100", 3), ("A2", 1, "CC-200", 30), ("A1", 1, "CC-100", 30), ("A3", 4, "CC-100", 1)]
        ):
            month = 11 if n < 3 else 12  # the last take is in December: not in November's chargeback
            ledger.post(
                s,
                slot_id=world.slots[slot],
                kind="issue",
                quantity=-qty,
                key=f"cb{n}",
                at=datetime(2026, month, day, 12, 0, tzinfo=UTC),
                worker_id=world.workers["W1"],
                charge_codes={"cost_center": center},
            )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sent_once_per_month_with_the_report_attached(session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory)
    settings = Settings(extra={chargeback.RECIPIENTS: "finance@example.com,plant@example.com"})
    with SmtpCapture() as smtp:
        mailer = chargeback.Mailer(smtp.host, smtp.port, "vendtrack@example.com")
        down = chargeback.Mailer("127.0.0.1", _closed_port(), "vendtrack@example.com", timeout=2)
        assert chargeback.send_if_due(session_factory, settings, down, DECEMBER_2ND) is None  # server down
        with session_factory() as s:
            run = s.get(ChargebackRun, "2026-11")
            assert run is not None and run.sent_at is None and run.claimed_at is None  # released for a retry
        assert chargeback.send_if_due(session_factory, settings, mailer, DECEMBER_2ND) == "2026-11"
        assert chargeback.send_if_due(session_factory, settings, mailer, DECEMBER_2ND) is None
        assert chargeback.send_if_due(session_factory, Settings(), mailer, datetime(2027, 1, 2, tzinfo=UTC)) is None
        assert len(smtp.messages) == 1
        message = smtp.messages[0]
    assert message["To"] == "finance@example.com, plant@example.com"
    assert message["Message-ID"] == "<chargeback-2026-11@vendtrack>"
    assert message["Subject"] == "Vending chargeback 2026-11: 6.00 over 2 cost centers"
    parts = {p.get_filename(): p.get_content() for p in message.iter_attachments()}
    rows = list(csv.reader(io.StringIO(parts["usage-by-cost_center-20261101-20261130.csv"])))
    with session_factory() as s:
        report = usage.chargeback(s, date(2026, 11, 1), date(2026, 11, 30))
        assert s.scalar(select(ChargebackRun.sent_at)) == DECEMBER_2ND
    assert rows == [report.headings] + [
        [str(c) if not hasattr(c, "quantize") else f"{c:.2f}" for c in r] for r in report.table()
    ]
    assert rows[1:] == [
        ["CC-100", "Assembly line", "3", "4.50"],
        ["CC-200", "", "1", "1.50"],
        ["Total", "", "4", "6.00"],
    ]
    book = load_workbook(io.BytesIO(parts["usage-by-cost_center-20261101-20261130.xlsx"]))
    assert [list(r) for r in book["Usage"].iter_rows(min_row=2, max_col=3, values_only=True)] == [
        ["CC-100", "Assembly line", 3],
        ["CC-200", None, 1],
        ["Total", None, 4],
    ]
    assert "CC-100       Assembly line" in message.get_body(("plain",)).get_content()


def test_bad_recipient_setting_names_the_variable() -> None:
    import pytest

    from core.settings import SettingsError

    with pytest.raises(SettingsError, match=r"VENDING_CHARGEBACK_TO.*not an e-mail address"):
        chargeback.parse_recipients("VENDING_CHARGEBACK_TO", "finance@example.com, nobody")
    assert chargeback.parse_recipients("X", " a@b.example , c@d.example ") == "a@b.example,c@d.example"
