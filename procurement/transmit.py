"""Sending a PO: store the PDF bytes with their SHA-256, e-mail them over SMTP, log every attempt, mark it sent."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import Conflict, DomainError
from core.settings import Settings
from procurement import pdf
from procurement.documents import build_context
from procurement.models import PoDocument, PurchaseOrder, Supplier, Transmission
from procurement.orders import APPROVED, SENT, get_po, transition

MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user, settings.smtp_password,
            settings.smtp_starttls,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: int
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class SendResult:
    po_number: str
    status: str  # sent | failed
    attempts: int
    sha256: str
    error: str = ""


def store_pdf(session: Session, po: PurchaseOrder, content: bytes, clock: Clock) -> StoredDocument:
    digest = hashlib.sha256(content).hexdigest()
    doc = PoDocument(po_id=po.id, kind="pdf", sha256=digest, size=len(content), content=content,
                     created_at=clock.now())  # fmt: skip
    session.add(doc)
    session.flush()
    return StoredDocument(doc.id, digest, len(content))


def latest_document(session: Session, po_id: int) -> PoDocument | None:
    return session.scalar(select(PoDocument).where(PoDocument.po_id == po_id).order_by(PoDocument.id.desc()).limit(1))


def send(session: Session, po_number: str, smtp: SmtpConfig, actor: str, clock: Clock) -> SendResult:
    """Render, store and e-mail an approved PO; on success the PO becomes sent. A failure is logged for retry."""
    po = get_po(session, po_number, lock=True)
    if po.status != APPROVED:
        raise Conflict(f"{po_number} is {po.status}: only approved orders are sent", field="status")
    supplier = session.get(Supplier, po.supplier_id)
    assert supplier is not None
    if not supplier.email:
        raise DomainError(f"supplier {supplier.code} has no e-mail address: add one, then send again", field="email")
    content = pdf.render(build_context(session, po_number))
    doc = store_pdf(session, po, content, clock)
    log = session.scalar(
        select(Transmission).where(Transmission.po_id == po.id, Transmission.status != "sent").limit(1)
    )
    if log is None:
        log = Transmission(po_id=po.id, channel="email", recipient=supplier.email, status="pending", attempts=0,
                           last_error="", created_at=clock.now(), updated_at=clock.now())  # fmt: skip
        session.add(log)
    log.document_id, log.recipient = doc.id, supplier.email
    message = _message(po.po_number, supplier, smtp.mail_from, content)
    error = ""
    for _ in range(MAX_ATTEMPTS):
        log.attempts += 1
        try:
            _deliver(smtp, message)
            error = ""
            break
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    log.updated_at = clock.now()
    if error:
        log.status, log.last_error = "failed", error
        session.flush()
        return SendResult(po_number, "failed", log.attempts, doc.sha256, error)
    log.status, log.last_error, log.message_id = "sent", "", str(message["Message-ID"])
    transition(session, po, SENT, actor, clock, comment=f"e-mailed to {supplier.email}, sha256 {doc.sha256}")
    po.sent_at = clock.now()
    return SendResult(po_number, "sent", log.attempts, doc.sha256)


def _message(po_number: str, supplier: Supplier, mail_from: str, content: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"Purchase order {po_number}"
    msg["From"] = mail_from
    msg["To"] = supplier.email
    msg["Message-ID"] = make_msgid(domain=mail_from.split("@")[-1] or "vendtrack.local")
    msg.set_content(
        f"Dear {supplier.name},\n\nplease find attached our purchase order {po_number}.\n"
        "Kindly confirm receipt and the expected delivery date.\n\nPurchasing\n"
    )
    msg.add_attachment(content, maintype="application", subtype="pdf", filename=f"{po_number}.pdf")
    return msg


def _deliver(smtp: SmtpConfig, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)


@dataclass(frozen=True, slots=True)
class TransmissionRow:
    po_number: str
    recipient: str
    status: str
    attempts: int
    last_error: str
    updated_at: str


def transmissions(session: Session, po_id: int) -> list[TransmissionRow]:
    rows = session.execute(
        select(Transmission, PurchaseOrder.po_number)
        .join(PurchaseOrder, PurchaseOrder.id == Transmission.po_id)
        .where(Transmission.po_id == po_id)
        .order_by(Transmission.id)
    ).all()
    return [
        TransmissionRow(n, t.recipient, t.status, t.attempts, t.last_error, f"{t.updated_at:%Y-%m-%d %H:%M:%S}")
        for t, n in rows
    ]
