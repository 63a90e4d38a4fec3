"""The monthly chargeback e-mail: last month's usage per cost center (money and units), CSV and XLSX attached.

Sent through the app's SMTP settings to VENDTRACK_VENDING_CHARGEBACK_TO (comma-separated addresses; unset = off)
by the `vending-chargeback` worker, once a month. A row per month in vending_chargeback_run is the marker: a sender
claims the month (insert under the month's primary key, or take over a claim older than CLAIM_TIMEOUT), commits,
sends with no transaction open (an SQLite write lock must not wait on a mail server), then records sent_at. A failed
send releases the claim for the next round. The Message-ID is fixed per month, so the rare resend after a crash
between sending and recording is one message to the mail clients.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.settings import PREFIX, Settings, SettingsError
from vending import exports, usage
from vending.models import ChargebackRun

log = logging.getLogger(__name__)
RECIPIENTS = "vending_chargeback_to"
CHECK_EVERY_SECONDS = 600.0
CLAIM_TIMEOUT = timedelta(hours=1)  # far above the 20 s SMTP timeout: a live sender is never taken over


def parse_recipients(name: str, raw: str) -> str:
    addresses = [a.strip() for a in raw.split(",") if a.strip()]
    for address in addresses:
        _, parsed = parseaddr(address)
        if "@" not in parsed or parsed != address or len(address) > 200:
            raise SettingsError(f"{PREFIX}{name}: {address!r} is not an e-mail address (use a@b.example,c@d.example)")
    return ",".join(addresses)


@dataclass(frozen=True, slots=True)
class Mailer:
    host: str
    port: int
    mail_from: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            settings.smtp_user,
            settings.smtp_password,
            settings.smtp_starttls,
        )

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.starttls:
                client.starttls()
            if self.user:
                client.login(self.user, self.password)
            client.send_message(message)


def message_for(report: usage.UsageReport, recipients: list[str], mail_from: str, month: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"Vending chargeback {month}: {report.value:.2f} over {len(report.lines)} cost centers"
    msg["From"] = mail_from
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<chargeback-{month}@vendtrack>"
    lines = [f"{ln.code or '-':<12} {ln.name[:30]:<30} {ln.quantity:>8} {ln.value:>12.2f}" for ln in report.lines]
    period = exports.describe(report)[0][1]
    msg.set_content(
        f"Vending usage per cost center, {period} ({report.query.timezone}).\n\n"
        f"{'Cost center':<12} {'Name':<30} {'Quantity':>8} {'Value':>12}\n"
        + "\n".join(lines)
        + f"\n{'Total':<12} {'':<30} {report.quantity:>8} {report.value:>12.2f}\n\n"
        "The same figures are attached as CSV and XLSX.\n"
    )
    msg.add_attachment(
        exports.to_csv(report).encode(), maintype="text", subtype="csv", filename=exports.filename(report, "csv")
    )
    msg.add_attachment(
        exports.to_xlsx(report),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=exports.filename(report, "xlsx"),
    )
    return msg


def send_if_due(factory: sessionmaker[Session], settings: Settings, mailer: Mailer, now: datetime) -> str | None:
    """Send last month's chargeback unless it went (or is going) already; returns the month sent, or None."""
    recipients = [a for a in settings.extra.get(RECIPIENTS, "").split(",") if a]
    if not recipients:
        return None
    claimed = _claim(factory, recipients, mailer.mail_from, now)
    if claimed is None:
        return None
    month, message = claimed
    try:
        mailer.send(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("chargeback for %s not sent (%s): trying again in %.0f s", month, exc, CHECK_EVERY_SECONDS)
        with unit_of_work(factory) as session:
            session.execute(update(ChargebackRun).where(ChargebackRun.month == month).values(claimed_at=None))
        return None
    with unit_of_work(factory) as session:
        session.execute(update(ChargebackRun).where(ChargebackRun.month == month).values(sent_at=now))
    log.info("chargeback for %s sent to %s", month, ", ".join(recipients))
    return month


def _claim(
    factory: sessionmaker[Session], recipients: list[str], mail_from: str, now: datetime
) -> tuple[str, EmailMessage] | None:
    try:
        with unit_of_work(factory) as session:
            today = now.astimezone(ZoneInfo(usage.site_timezone(session))).date()
            start, end = usage.previous_month(today)
            month = f"{start:%Y-%m}"
            row = session.get(ChargebackRun, month)
            if row is None:
                session.add(
                    ChargebackRun(
                        month=month,
                        claimed_at=now,
                        recipients=",".join(recipients),
                        message_id=f"<chargeback-{month}@vendtrack>",
                    )
                )
                session.flush()
            elif row.sent_at is not None or (row.claimed_at is not None and row.claimed_at > now - CLAIM_TIMEOUT):
                return None
            else:  # compare-and-set: of two processes taking over a stale claim, one wins
                taken = session.execute(
                    update(ChargebackRun)
                    .where(
                        ChargebackRun.month == month,
                        ChargebackRun.sent_at.is_(None),
                        ChargebackRun.claimed_at.is_(row.claimed_at)
                        if row.claimed_at is None
                        else ChargebackRun.claimed_at == row.claimed_at,
                    )
                    .values(claimed_at=now)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    return None
            report = usage.chargeback(session, start, end)
            return month, message_for(report, recipients, mail_from, month)
    except IntegrityError:  # another process inserted the month first
        return None
