"""Supplier-facing pages (no account): the signed link from the PO e-mail, where the supplier confirms, rejects
or proposes changes per line and announces shipments; and the cXML endpoint suppliers' systems POST to."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from core import access
from core.errors import DomainError
from core.runtime import AppServices
from procurement import supplier_links
from procurement.documents import build_context
from procurement.models import Acknowledgement, ShipNotice
from procurement.orders import get_po
from procurement.supplier_inbound import acknowledge, asn, cxml_inbound, fields
from procurement.supplier_inbound.states import SUPPLIER_LABELS, AckStatus

bp = Blueprint("supplier", __name__, url_prefix="/supplier", template_folder="templates")
LINK_MAX_AGE = timedelta(days=30)


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _services() -> AppServices:
    return current_app.extensions["vendtrack"]


def _claim(token: str) -> supplier_links.LinkClaim:
    """A valid link's claim; a forged or expired one is 404/410 with what to do (the page is public)."""
    try:
        return supplier_links.verify(_services().settings.secret_key, token, _services().clock.now(), LINK_MAX_AGE)
    except DomainError as exc:
        status = 410 if exc.code == supplier_links.LINK_EXPIRED else 404
        raise DomainError(exc.message, field="token", code="link_invalid", status=status) from None


@bp.get("/respond/<token>")
@access.public
def respond_page(token: str) -> str:
    claim = _claim(token)
    session = _db()
    ctx = build_context(session, claim.po_number)
    po = get_po(session, claim.po_number)
    last = session.scalar(select(Acknowledgement).where(Acknowledgement.po_id == po.id)
                          .order_by(Acknowledgement.id.desc()).limit(1))  # fmt: skip
    notices = session.scalars(select(ShipNotice).where(ShipNotice.po_id == po.id).order_by(ShipNotice.id)).all()
    return render_template(
        "supplier/respond.html", ctx=ctx, token=token, status=po.status,
        ack_used=supplier_links.used(session, claim, "acknowledgement"),
        ship_used=supplier_links.used(session, claim, "ship_notice"),
        last=last, last_label=SUPPLIER_LABELS.get(AckStatus(last.status), last.status) if last else "",
        notices=notices, shipped=asn.shipped_by_line(session, po.id),
    )  # fmt: skip


def _line_answer(form: Any, number: int) -> acknowledge.AckLineInput:
    action = form.get(f"action_{number}", "accept")
    if action != "change":
        return acknowledge.AckLineInput(number, action)
    qty, price, when = (form.get(f"{k}_{number}", "").strip() for k in ("quantity", "price", "date"))
    if not (qty or price or when):
        raise DomainError(lazy_gettext("line %(number)s: enter the new quantity, price or date, or choose accept",
                                       number=number),
                          field=f"line_{number}")  # fmt: skip
    return acknowledge.AckLineInput(
        number, "change", fields.quantity(qty, f"line {number} quantity", 1) if qty else None,
        fields.price(price, f"line {number} price") if price else None,
        fields.day(when, f"line {number} date") if when else None,
    )  # fmt: skip


@bp.post("/respond/<token>/acknowledge")
@access.public
def acknowledge_post(token: str) -> Response:
    claim = _claim(token)
    session, clock = _db(), _services().clock
    po = get_po(session, claim.po_number)
    form = request.form
    numbers = [r.line_number for r in build_context(session, claim.po_number).lines]
    answer = acknowledge.AckInput(claim.po_number, form.get("reject_order") == "yes",
                                  tuple(_line_answer(form, n) for n in numbers),
                                  fields.text(form.get("comment"), "comment", 2000))  # fmt: skip
    supplier_links.consume(session, claim, "acknowledgement", po.id, clock, request.remote_addr or "")
    doc = fields.store(session, "link", "confirmation", _form_bytes(form), clock, supplier_id=po.supplier_id,
                       po_id=po.id, payload_id=f"link:{claim.nonce}")  # fmt: skip
    ack = acknowledge.record(session, answer, doc.id, clock, f"supplier-link:{claim.nonce[:8]}")
    session.commit()
    flash(gettext(
            "Thank you: your answer to %(po_number)s is recorded (%(status)s).",
            po_number=claim.po_number,
            status=SUPPLIER_LABELS[AckStatus(ack.status)],
        ), "ok")
    return redirect(url_for("supplier.respond_page", token=token))  # type: ignore[return-value]


@bp.post("/respond/<token>/ship")
@access.public
def ship_post(token: str) -> Response:
    claim = _claim(token)
    session, clock = _db(), _services().clock
    po = get_po(session, claim.po_number)
    form = request.form
    lines = tuple((r.line_number, fields.quantity(form.get(f"ship_{r.line_number}"), f"line {r.line_number}"))
                  for r in build_context(session, claim.po_number).lines
                  if (form.get(f"ship_{r.line_number}") or "").strip() not in ("", "0"))  # fmt: skip
    expected = (form.get("expected_date") or "").strip()
    notice = asn.ShipNoticeInput(
        claim.po_number, fields.text(form.get("shipment_id"), "shipment_id", 64),
        fields.day(form.get("ship_date", ""), "ship_date"), lines,
        fields.day(expected, "expected_date") if expected else None,
        fields.text(form.get("carrier"), "carrier", 100),
        fields.text(form.get("tracking_number"), "tracking_number", 100),
    )  # fmt: skip
    supplier_links.consume(session, claim, "ship_notice", po.id, clock, request.remote_addr or "")
    doc = fields.store(session, "link", "ship_notice", _form_bytes(form), clock, supplier_id=po.supplier_id,
                       po_id=po.id, payload_id=f"link:{claim.nonce}")  # fmt: skip
    asn.record(session, notice, doc.id, clock, f"supplier-link:{claim.nonce[:8]}")
    session.commit()
    flash(gettext(
            "Thank you: shipment %(shipment_id)s of %(po_number)s is announced.",
            shipment_id=notice.shipment_id,
            po_number=claim.po_number,
        ), "ok")
    return redirect(url_for("supplier.respond_page", token=token))  # type: ignore[return-value]


def _form_bytes(form: Any) -> bytes:
    return json.dumps({k: v for k, v in form.items() if k != "csrf_token"}, ensure_ascii=False).encode()


@bp.post("/cxml")
@access.public
def cxml_post() -> Response:
    """Suppliers' systems POST cXML here; authenticated by the SharedSecret inside (no cookies, so no CSRF)."""
    raw = request.get_data(cache=False)
    session, services = _db(), _services()
    if len(raw) > cxml_inbound.MAX_BYTES:
        result = cxml_inbound.InboundResult(413, "document larger than 2 MB", cxml_inbound.response(
            413, "document larger than 2 MB: split it", services.clock))  # fmt: skip
    else:
        result = cxml_inbound.receive(session, raw, services.settings.secret_key, services.clock)
        session.commit()
    return Response(result.body, status=result.code, mimetype="text/xml")


cxml_post.csrf_exempt = True  # type: ignore[attr-defined]

