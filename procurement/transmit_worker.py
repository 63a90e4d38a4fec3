"""The background retry of PO e-mails: due queued transmissions and stale claims, each claimed by one process.

A claim is a compare-and-set UPDATE (status, next_attempt_at / claimed_at) made while the PO row is locked
(FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), so two workers never send the same transmission at
once: the loser's UPDATE matches no row. A "sending" claim older than `RetryPolicy.claim_timeout` belongs to
a process that died mid-send; it is retried with the same Message-ID.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.db import unit_of_work
from procurement import orders
from procurement.models import PurchaseOrder, Supplier, Transmission
from procurement.transmission_states import FAILED, QUEUED, SENDING
from procurement.transmit import (
    DEFAULT_POLICY,
    UNRECORDED,
    Claim,
    RetryPolicy,
    SmtpConfig,
    claim_of,
    current_document,
    deliver,
    finish,
    new_message_id,
    record,
)

log = logging.getLogger(__name__)

SKIPPED, STOPPED = "skipped", "stopped"


@dataclass(frozen=True, slots=True)
class RetryReport:
    recorded: int = 0  # deliveries of this process whose "sent" was written late
    sent: int = 0
    queued: int = 0  # failed again, next attempt scheduled
    failed: int = 0  # automatic retries used up
    sending: int = 0  # delivered or not, the outcome could not be recorded yet
    stopped: int = 0  # the PO is no longer approved (or the supplier has no address): not sent
    skipped: int = 0  # another process claimed it first


def due(now: datetime, policy: RetryPolicy) -> ColumnElement[bool]:
    """Queued and due, or "sending" under a claim older than the timeout."""
    stale = or_(Transmission.claimed_at.is_(None), Transmission.claimed_at <= now - policy.claim_timeout)
    return or_(
        and_(Transmission.status == QUEUED, Transmission.next_attempt_at <= now),
        and_(Transmission.status == SENDING, stale),
    )


def retry_due(
    factory: sessionmaker[Session], smtp: SmtpConfig, clock: Clock, policy: RetryPolicy = DEFAULT_POLICY,
    limit: int = 20,
) -> RetryReport:  # fmt: skip
    """One round of the worker: record late outcomes of this process, then retry what is due, one at a time."""
    counts: Counter[str] = Counter(recorded=record_unrecorded(factory, clock, policy))
    for transmission_id in due_ids(factory, clock.now(), policy, limit):
        counts[retry_one(factory, transmission_id, smtp, clock, policy)] += 1
    return RetryReport(**counts)


def due_ids(factory: sessionmaker[Session], now: datetime, policy: RetryPolicy, limit: int = 20) -> list[int]:
    with unit_of_work(factory) as session:
        found = session.scalars(
            select(Transmission.id).where(due(now, policy)).order_by(Transmission.next_attempt_at, Transmission.id)
            .limit(limit)
        ).all()  # fmt: skip
    mine = UNRECORDED.ids(factory)  # delivered by this process, recording pending: never deliver again
    return [i for i in found if i not in mine]


def retry_one(
    factory: sessionmaker[Session], transmission_id: int, smtp: SmtpConfig, clock: Clock, policy: RetryPolicy
) -> str:
    """Claim, deliver (no transaction open), record; returns the outcome (a RetryReport field name)."""
    claim = claim_due(factory, transmission_id, smtp, clock, policy)
    if isinstance(claim, str):
        return claim
    return finish(factory, claim, deliver(smtp, claim), clock, policy).status


def claim_due(
    factory: sessionmaker[Session], transmission_id: int, smtp: SmtpConfig, clock: Clock, policy: RetryPolicy
) -> Claim | str:
    """Transaction A of a retry: the claim (compare-and-set) and the PDF as the PO is now."""
    with unit_of_work(factory) as session:
        po_id = session.scalar(select(Transmission.po_id).where(Transmission.id == transmission_id))
        if po_id is None:
            return SKIPPED
        po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update())
        supplier = session.get(Supplier, po.supplier_id) if po is not None else None
        if po is None or supplier is None:
            return SKIPPED
        now = clock.now()
        is_due = and_(Transmission.id == transmission_id, due(now, policy))
        if reason := _not_sendable(po, supplier):
            return STOPPED if _give_up(session, is_due, reason, now) else SKIPPED
        claimed = session.scalar(
            update(Transmission)
            .where(is_due, Transmission.attempts < policy.max_attempts)
            .values(status=SENDING, attempts=Transmission.attempts + 1, claimed_at=now, claim_token=uuid.uuid4().hex,
                    next_attempt_at=None, updated_at=now)
            .returning(Transmission.id)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if claimed is None:
            interrupted = "the last attempt was interrupted (its process stopped); automatic retries are used up"
            return FAILED if _give_up(session, is_due, interrupted, now) else SKIPPED
        t = session.get(Transmission, transmission_id, populate_existing=True)
        assert t is not None
        content, doc = current_document(session, po, t.document_id, clock)
        t.document_id, t.recipient = doc.id, supplier.email
        t.message_id = t.message_id or new_message_id(po.po_number, smtp.mail_from)
        session.flush()
        return claim_of(t, po.po_number, supplier, content, doc.sha256)


def _not_sendable(po: PurchaseOrder, supplier: Supplier) -> str:
    if po.status != orders.APPROVED:
        return f"{po.po_number} is {po.status}: no longer e-mailed automatically"
    if not supplier.email:
        return f"supplier {supplier.code} has no e-mail address: add one, then send again"
    return ""


def _give_up(session: Session, is_due: ColumnElement[bool], reason: str, now: datetime) -> bool:
    """Mark a due transmission failed (a person decides); False when another process had it first."""
    done = session.scalar(
        update(Transmission)
        .where(is_due)
        .values(status=FAILED, last_error=reason, next_attempt_at=None, claimed_at=None, claim_token=None,
                updated_at=now)
        .returning(Transmission.id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return done is not None


def record_unrecorded(factory: sessionmaker[Session], clock: Clock, policy: RetryPolicy = DEFAULT_POLICY) -> int:
    """Write "sent" for deliveries this process made while the database was away; the e-mail is not sent again."""
    done = 0
    for claim in UNRECORDED.claims(factory):
        try:
            with unit_of_work(factory) as session:
                record(session, claim, "", clock, policy)
        except DBAPIError as exc:
            log.warning("recording transmission %s of %s still fails: %s", claim.transmission_id, claim.po_number,
                        exc)  # fmt: skip
            break
        UNRECORDED.discard(factory, claim)
        done += 1
    return done
