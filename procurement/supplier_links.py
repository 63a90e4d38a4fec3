"""Signed supplier links: the PO e-mail carries one URL the supplier opens without an account.

The token is an HMAC-signed (itsdangerous, key = the app's SECRET_KEY with its own salt) payload of the PO number,
a nonce fixed per transmission, and the issue time. It expires `max_age` after it was issued (the clock is
injectable, so tests control it); each purpose (acknowledgement, ship notice) is answered once per nonce, which
the unique row in `proc_supplier_link_use` enforces even between two simultaneous submits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, Forbidden
from procurement.models import SupplierLinkUse

LINK_EXPIRED = "link_expired"  # the error code of an expired link (the page answers 410 Gone)

SALT = "vendtrack.procurement.supplier-link.v1"
DEFAULT_MAX_AGE = timedelta(days=30)
PURPOSES = ("acknowledgement", "ship_notice")
PURPOSE_WORDS = {"acknowledgement": lazy_gettext("acknowledgement"), "ship_notice": lazy_gettext("ship notice")}


@dataclass(frozen=True, slots=True)
class LinkClaim:
    po_number: str
    nonce: str
    issued_at: datetime


def nonce_for(message_id: str) -> str:
    """Stable per transmission (its Message-ID), so a retried e-mail carries the same link."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


def sign(secret_key: str, po_number: str, nonce: str, issued_at: datetime) -> str:
    payload = {"po": po_number, "n": nonce, "iat": int(issued_at.timestamp())}
    return str(URLSafeSerializer(secret_key, salt=SALT).dumps(payload))


def verify(secret_key: str, token: str, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> LinkClaim:
    """The claim of a genuine, unexpired token; anything else is refused (403) with what to do."""
    if len(token) > 600:
        raise Forbidden(lazy_gettext(
                "this link is not valid: open the link from the purchase-order e-mail",
            ), field="token")
    try:
        data = URLSafeSerializer(secret_key, salt=SALT).loads(token)
    except BadSignature:
        raise Forbidden(lazy_gettext(
                "this link is not valid: open the link from the purchase-order e-mail",
            ), field="token") from None
    if not isinstance(data, dict) or not {"po", "n", "iat"} <= set(data):
        raise Forbidden(lazy_gettext(
                "this link is not valid: open the link from the purchase-order e-mail",
            ), field="token")
    issued = datetime.fromtimestamp(int(data["iat"]), UTC)
    if now - issued > max_age:
        raise Forbidden(lazy_gettext("this link expired on %(day)s: ask the buyer to send the order again",
                                     day=format(issued + max_age, "%Y-%m-%d")),
                        field="token", code=LINK_EXPIRED)  # fmt: skip
    return LinkClaim(str(data["po"]), str(data["n"]), issued)


def used(session: Session, claim: LinkClaim, purpose: str) -> datetime | None:
    return session.scalar(select(SupplierLinkUse.used_at).where(SupplierLinkUse.nonce == claim.nonce,
                                                                SupplierLinkUse.purpose == purpose))  # fmt: skip


def consume(session: Session, claim: LinkClaim, purpose: str, po_id: int, clock: Clock, remote: str) -> None:
    """Record the one answer for `purpose`; a second one is a 409 naming when the first came."""
    if purpose not in PURPOSES:
        raise DomainError(lazy_gettext("unknown link purpose %(purpose)s", purpose=repr(purpose)), field="purpose")
    now = clock.now()
    earlier = used(session, claim, purpose)
    if earlier is not None:
        raise Conflict(lazy_gettext("this link was already used for the %(purpose)s on %(moment)s UTC: contact the "
                                    "buyer for further changes", purpose=PURPOSE_WORDS[purpose],
                                    moment=format(earlier, "%Y-%m-%d %H:%M")), field="token")  # fmt: skip
    try:
        with session.begin_nested():
            session.add(SupplierLinkUse(nonce=claim.nonce, purpose=purpose, po_id=po_id, used_at=now,
                                        remote=remote[:64]))  # fmt: skip
    except IntegrityError:
        raise Conflict(lazy_gettext(
                "this link was already used for the %(purpose)s",
                purpose=PURPOSE_WORDS[purpose],
            ), field="token") from None
    audit.record(session, f"supplier-link:{claim.nonce[:8]}", f"supplier_link.{purpose}", "purchase_order",
                 claim.po_number, after={"remote": remote[:64]}, clock=clock)  # fmt: skip

