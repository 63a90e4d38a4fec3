"""Sending a PO by e-mail without ever e-mailing twice because of a database retry.

Three steps, each its own unit of work or none:

1. `begin` (transaction A): check the PO, render and store the PDF (SHA-256), create or refresh the
   `Transmission` row with its Message-ID (fixed once per transmission) and claim it: status "sending".
2. `deliver`: SMTP, with no database transaction open.
3. `finish` (transaction B): sent → the PO becomes sent; failed → queued again with exponential backoff,
   or "failed" after `RetryPolicy.max_attempts` (a person sends again). If the database fails here after
   the e-mail went out, the *recording* is retried (a few times at once, then by this process's background
   worker), never the delivery.

Due and stale transmissions are retried by `procurement.transmit_worker.retry_due`.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from weakref import WeakKeyDictionary

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, object_session, sessionmaker

from core import audit
from core.clock import Clock
from core.db import unit_of_work
from core.errors import Conflict, DomainError
from core.notes import N_, Note
from core.settings import Settings
from procurement import orders, pdf, po_mail, supplier_links
from procurement.documents import build_context
from procurement.models import PoDocument, PurchaseOrder, Supplier, Transmission
from procurement.po_states import status_words
from procurement.send_config import PUBLIC_URL, retry_values
from procurement.transmission_states import FAILED, QUEUED, SENDING, SENT, TRANSMISSION, TransmissionStatus

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 20.0
    link_secret: str = ""  # the app's SECRET_KEY: signs the supplier link in the e-mail
    public_url: str = ""  # VENDTRACK_PROCUREMENT_PUBLIC_URL: where suppliers reach us; "" = no link in the e-mail

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user, settings.smtp_password,
            settings.smtp_starttls, link_secret=settings.secret_key,
            public_url=settings.extra.get(PUBLIC_URL, ""),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff 1, 2, 4, 8 … minutes (capped); a claim older than `claim_timeout` belongs to a dead process."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    claim_timeout: timedelta = timedelta(minutes=10)  # well above SmtpConfig.timeout: a live sender is never robbed
    record_pauses: tuple[float, ...] = (0.05, 0.5, 2.0)  # seconds between tries to record an outcome

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy with VENDTRACK_PROCUREMENT_SEND_MAX_ATTEMPTS, _BACKOFF_S and _CLAIM_TIMEOUT_S applied."""
        values = retry_values(settings.extra)
        return cls(values.max_attempts, timedelta(seconds=values.backoff_s),
                   claim_timeout=timedelta(seconds=values.claim_timeout_s))  # fmt: skip

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 → first_delay)."""
        return min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: int
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Claim:
    """What one delivery attempt needs, read in transaction A; `token` proves the claim in transaction B."""

    transmission_id: int
    token: str
    po_number: str
    recipient: str
    supplier_name: str
    message_id: str
    content: bytes
    sha256: str
    attempt: int
    actor: str
    issued_at: datetime | None = None  # when this attempt was claimed: the e-mail's Date and the link's issue time
    buyer_name: str = ""
    reply_to: str = ""
    order: OrderFacts | None = None  # what the e-mail says about the order, in the supplier's language


@dataclass(frozen=True, slots=True)
class OrderFacts:
    language: str  # the supplier's ("" = English)
    currency: str
    total: Decimal
    order_date: datetime
    requested_delivery: date | None


@dataclass(frozen=True, slots=True)
class SendResult:
    po_number: str
    status: str  # the transmission's: sent | queued (retried at next_attempt_at) | failed | sending (see error)
    attempts: int
    sha256: str
    error: str = ""
    next_attempt_at: datetime | None = None
    message_id: str = ""


def store_pdf(session: Session, po: PurchaseOrder, content: bytes, clock: Clock) -> StoredDocument:
    digest = hashlib.sha256(content).hexdigest()
    doc = PoDocument(po_id=po.id, kind="pdf", sha256=digest, size=len(content), content=content,
                     created_at=clock.now())  # fmt: skip
    session.add(doc)
    session.flush()
    return StoredDocument(doc.id, digest, len(content))


def current_document(
    session: Session, po: PurchaseOrder, stored_id: int | None, clock: Clock
) -> tuple[bytes, StoredDocument]:
    """Render the PO as it is now; reuse the stored document when the bytes are the same, else store them."""
    content = pdf.render(build_context(session, po.po_number))
    digest = hashlib.sha256(content).hexdigest()
    if stored_id is not None:
        row = session.execute(select(PoDocument.sha256, PoDocument.size).where(PoDocument.id == stored_id)).first()
        if row is not None and row.sha256 == digest:
            return content, StoredDocument(stored_id, digest, row.size)
    return content, store_pdf(session, po, content, clock)


def claim_of(t: Transmission, po_number: str, supplier: Supplier, content: bytes, digest: str) -> Claim:
    assert t.claim_token is not None
    session = object_session(t)
    assert session is not None
    buyer_name, reply_to = _buyer_contact(session, t.po_id)
    po = session.get(PurchaseOrder, t.po_id)
    assert po is not None
    facts = OrderFacts(supplier.language, po.currency, orders.po_totals(session, po).total, po.created_at,
                       po.requested_delivery_date)  # fmt: skip
    return Claim(t.id, t.claim_token, po_number, t.recipient, supplier.name, t.message_id, content, digest,
                 t.attempts, t.requested_by, t.claimed_at, buyer_name, reply_to, facts)  # fmt: skip


def _buyer_contact(session: Session, po_id: int) -> tuple[str, str]:
    po = session.get(PurchaseOrder, po_id)
    assert po is not None
    settings = orders.site_settings(session, po.site_id)
    return po.buyer_name or settings.buyer_name, settings.buyer_email


def new_message_id(po_number: str, mail_from: str) -> str:
    """`<PO-000123.<uuid4 hex>@sender-domain>`: unique, names the order, short enough not to be folded."""
    return f"<{po_number}.{uuid.uuid4().hex}@{mail_from.split('@')[-1] or 'vendtrack.local'}>"


def is_stale(t: Transmission, now: datetime, policy: RetryPolicy) -> bool:
    return t.status == SENDING and (t.claimed_at is None or t.claimed_at <= now - policy.claim_timeout)


# ---- transaction A ---------------------------------------------------------------------------------


def begin(
    factory: sessionmaker[Session], po_number: str, smtp: SmtpConfig, actor: str, clock: Clock,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Claim:  # fmt: skip
    """Transaction A of a send a person asked for: a new transmission, or the PO's open one claimed again."""
    with unit_of_work(factory) as session:
        po = orders.get_po(session, po_number, lock=True)
        if po.status != orders.APPROVED:
            raise Conflict(
                lazy_gettext(
                    "%(po_number)s is %(status)s: only approved orders are sent",
                    po_number=po_number,
                    status=status_words(po.status),
                ),
                field="status",
            )
        supplier = session.get(Supplier, po.supplier_id)
        assert supplier is not None
        if not supplier.email:
            raise DomainError(lazy_gettext("supplier %(code)s has no e-mail address: add one, then send again",
                                           code=supplier.code),
                              field="email")  # fmt: skip
        now = clock.now()
        t = session.scalar(
            select(Transmission).where(Transmission.po_id == po.id, Transmission.status != SENT)
            .order_by(Transmission.id.desc()).limit(1).with_for_update()
        )  # fmt: skip
        if t is not None:
            _check_resend(t, po_number, factory, now, policy)
            audit.record(session, actor, "po.resend", "purchase_order", po_number,
                         before={"status": t.status, "attempts": t.attempts, "last_error": t.last_error},
                         after={"status": SENDING}, clock=clock)  # fmt: skip
            TRANSMISSION.move(t, SENDING, lazy_gettext("transmission of %(number)s", number=po_number))
        else:
            t = Transmission(po_id=po.id, channel="email", recipient=supplier.email, status=SENDING, attempts=0,
                             last_error="", message_id=new_message_id(po_number, smtp.mail_from), created_at=now,
                             updated_at=now)  # fmt: skip
            session.add(t)
        content, doc = current_document(session, po, t.document_id, clock)
        t.document_id = doc.id
        t.message_id = t.message_id or new_message_id(po_number, smtp.mail_from)
        t.recipient, t.requested_by, t.attempts = supplier.email, actor, 1  # a new series
        t.claimed_at, t.claim_token, t.next_attempt_at, t.updated_at = now, uuid.uuid4().hex, None, now
        session.flush()
        return claim_of(t, po_number, supplier, content, doc.sha256)


def _check_resend(t: Transmission, po_number: str, factory: sessionmaker[Session], now: datetime,
                  policy: RetryPolicy) -> None:  # fmt: skip
    if t.id in UNRECORDED.ids(factory):
        raise Conflict(
            lazy_gettext("%(po_number)s was e-mailed; recording that is waiting for the database", po_number=po_number),
            field="status",
        )
    if t.status == SENDING and not is_stale(t, now, policy):
        raise Conflict(lazy_gettext("%(po_number)s is being e-mailed right now (since %(since)s UTC): wait for the "
                                    "outcome", po_number=po_number, since=format(t.claimed_at, "%H:%M:%S")),
                       field="status")  # fmt: skip


# ---- delivery: no transaction open -------------------------------------------------------------------


def deliver(smtp: SmtpConfig, claim: Claim) -> str:
    """One SMTP attempt; returns "" when the server accepted the message, else what went wrong."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message(claim, smtp))
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"[:1000] or "unknown SMTP error"
    return ""


def message(claim: Claim, smtp: SmtpConfig) -> EmailMessage:
    """The e-mail of one attempt (built in `procurement.po_mail`), with the signed supplier link when configured."""
    sent_at = claim.issued_at or datetime.now(UTC)
    link = ""
    if smtp.public_url and smtp.link_secret:
        token = supplier_links.sign(smtp.link_secret, claim.po_number, supplier_links.nonce_for(claim.message_id),
                                    sent_at)  # fmt: skip
        link = f"{smtp.public_url.rstrip('/')}/supplier/respond/{token}"
    facts = claim.order
    return po_mail.build(po_mail.MailParts(claim.po_number, claim.recipient, claim.supplier_name, claim.message_id,
                                           claim.content, sent_at, smtp.mail_from, claim.buyer_name, claim.reply_to,
                                           link, facts.language if facts else "", facts.currency if facts else "",
                                           facts.total if facts else None, facts.order_date if facts else None,
                                           facts.requested_delivery if facts else None))  # fmt: skip


# ---- transaction B ---------------------------------------------------------------------------------


def finish(
    factory: sessionmaker[Session], claim: Claim, error: str, clock: Clock, policy: RetryPolicy = DEFAULT_POLICY
) -> SendResult:
    """Record the outcome. A database failure retries the recording; a delivered e-mail is never sent again."""
    problem = ""
    for pause in (0.0, *policy.record_pauses):
        if pause:
            time.sleep(pause)
        try:
            with unit_of_work(factory) as session:
                return record(session, claim, error, clock, policy)
        except DBAPIError as exc:
            problem = f"{type(exc).__name__}: {exc.orig or exc}"[:500]
            log.warning("recording transmission %s of %s failed: %s", claim.transmission_id, claim.po_number, problem)
    if not error:
        UNRECORDED.add(factory, claim)  # this process's transmit worker records it once the database is back
        problem = f"e-mailed, but recording that failed ({problem}); it is recorded as soon as the database is back"
    return SendResult(claim.po_number, SENDING, claim.attempt, claim.sha256, error or problem, None, claim.message_id)


def record(session: Session, claim: Claim, error: str, clock: Clock, policy: RetryPolicy) -> SendResult:
    """Transaction B's work: mark sent (idempotent) or schedule the next attempt; the caller commits."""
    po = orders.get_po(session, claim.po_number, lock=True)
    t = session.get(Transmission, claim.transmission_id, with_for_update=True, populate_existing=True)
    assert t is not None
    now = clock.now()
    if not error:
        if t.status != SENT:
            _mark_sent(session, po, t, claim, clock)
    elif t.status == SENDING and t.claim_token == claim.token:
        t.last_error, t.claimed_at, t.claim_token, t.updated_at = error, None, None, now
        if t.attempts >= policy.max_attempts:
            TRANSMISSION.move(t, FAILED, lazy_gettext("transmission of %(number)s", number=po.po_number))
            t.next_attempt_at = None
            audit.record(session, claim.actor, "po.send_failed", "purchase_order", po.po_number,
                         after={"attempts": t.attempts, "error": error}, clock=clock,
                         comment=Note.of(N_("automatic retries stopped: send again by hand")).encode())  # fmt: skip
        else:
            TRANSMISSION.move(t, QUEUED, lazy_gettext("transmission of %(number)s", number=po.po_number))
            t.next_attempt_at = now + policy.delay(t.attempts)
    # else: our claim went stale and another process took the transmission over; its outcome counts
    session.flush()
    return SendResult(po.po_number, t.status, t.attempts, claim.sha256, t.last_error, t.next_attempt_at,
                      t.message_id)  # fmt: skip


def _mark_sent(session: Session, po: PurchaseOrder, t: Transmission, claim: Claim, clock: Clock) -> None:
    now = clock.now()
    TRANSMISSION.move(t, SENT, lazy_gettext("transmission of %(number)s", number=po.po_number))
    t.sent_at, t.last_error, t.next_attempt_at, t.updated_at = now, "", None, now
    t.claimed_at, t.claim_token = None, None
    sent = {"recipient": claim.recipient, "sha256": claim.sha256, "message_id": claim.message_id}
    if claim.attempt > 1:
        said = Note.of(N_("e-mailed to %(recipient)s, sha256 %(sha256)s, Message-ID %(message_id)s, attempt "
                          "%(attempt)s"), attempt=claim.attempt, **sent)  # fmt: skip
    else:
        said = Note.of(N_("e-mailed to %(recipient)s, sha256 %(sha256)s, Message-ID %(message_id)s"), **sent)
    if po.status == orders.APPROVED:
        orders.transition(session, po, orders.SENT, claim.actor, clock, comment=said.encode())
        po.sent_at = now
    else:  # cancelled or sent back for approval while the e-mail was on its way: say that it went out
        late = Note.of(N_("%(sent)s while the order was %(status)s"), sent=said, status=po.status)
        audit.record(session, claim.actor, "po.delivered", "purchase_order", po.po_number,
                     after={"status": po.status}, comment=late.encode(), clock=clock)  # fmt: skip


def send(
    factory: sessionmaker[Session], po_number: str, smtp: SmtpConfig, actor: str, clock: Clock,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> SendResult:  # fmt: skip
    """Render, store and e-mail an approved PO now; a failed attempt is queued for the background worker.

    Opens its own transactions: the caller must not hold one (on SQLite it would hold the write lock).
    """
    claim = begin(factory, po_number, smtp, actor, clock, policy)
    return finish(factory, claim, deliver(smtp, claim), clock, policy)


# ---- deliveries this process made but could not record yet ----------------------------------------


class Unrecorded:
    """Claims delivered by this process whose "sent" is not written yet, per session factory (database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: WeakKeyDictionary[sessionmaker[Session], dict[int, Claim]] = WeakKeyDictionary()

    def add(self, factory: sessionmaker[Session], claim: Claim) -> None:
        with self._lock:
            self._claims.setdefault(factory, {})[claim.transmission_id] = claim

    def claims(self, factory: sessionmaker[Session]) -> list[Claim]:
        with self._lock:
            return list(self._claims.get(factory, {}).values())

    def ids(self, factory: sessionmaker[Session]) -> frozenset[int]:
        with self._lock:
            return frozenset(self._claims.get(factory, {}))

    def discard(self, factory: sessionmaker[Session], claim: Claim) -> None:
        with self._lock:
            self._claims.get(factory, {}).pop(claim.transmission_id, None)


UNRECORDED = Unrecorded()


# ---- the PO page -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransmissionRow:
    po_number: str
    recipient: str
    status: TransmissionStatus
    attempts: int
    max_attempts: int
    last_error: str
    updated_at: datetime
    next_attempt_at: datetime | None
    claimed_at: datetime | None
    sent_at: datetime | None
    message_id: str


def transmissions(session: Session, po_id: int, policy: RetryPolicy = DEFAULT_POLICY) -> list[TransmissionRow]:
    rows = session.execute(
        select(Transmission, PurchaseOrder.po_number)
        .join(PurchaseOrder, PurchaseOrder.id == Transmission.po_id)
        .where(Transmission.po_id == po_id)
        .order_by(Transmission.id)
    ).all()
    return [_row(t, n, policy) for t, n in rows]


def _row(t: Transmission, po_number: str, policy: RetryPolicy) -> TransmissionRow:
    status = TransmissionStatus(t.status)
    return TransmissionRow(po_number, t.recipient, status, t.attempts, policy.max_attempts, t.last_error,
                           t.updated_at, t.next_attempt_at, t.claimed_at, t.sent_at, t.message_id)  # fmt: skip
