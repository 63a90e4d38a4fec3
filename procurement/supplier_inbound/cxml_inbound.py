"""Inbound cXML from suppliers (HTTPS POST): ConfirmationRequest, ShipNoticeRequest, InvoiceDetailRequest.

Every document is stored as received before anything else, then authenticated (the From credential names the
supplier through its profile's To identity; the Sender's SharedSecret must equal the supplier's, compared in
constant time) and booked in a savepoint. Whatever goes wrong, the sender gets a cXML Response with a Status
naming the problem, and nothing else is lost: the stored document says why it was refused. Parsing is hardened:
no DTD is loaded, no entity expanded, no network touched, and the size is capped by the view.
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import DomainError
from procurement import secret_box
from procurement.cxml import CXML_VERSION, payload_id
from procurement.models import InboundDocument, PurchaseOrder, Supplier, SupplierProfile
from procurement.supplier_inbound import acknowledge, asn, fields, invoices

MAX_BYTES = 2_000_000
KINDS = {"ConfirmationRequest": "confirmation", "ShipNoticeRequest": "ship_notice",
         "InvoiceDetailRequest": "invoice"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class InboundResult:  # i18n: the cXML status a supplier's system reads
    code: int  # the cXML Status code, also the HTTP status
    text: str
    body: bytes  # the cXML Response document
    document_id: int | None = None


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def response(code: int, text: str, clock: Clock) -> bytes:
    root = ET.Element("cXML", {"payloadID": payload_id(clock.now()), "timestamp": clock.now().isoformat(
        timespec="seconds"), "xml:lang": "en-US", "version": CXML_VERSION})  # fmt: skip
    status = ET.SubElement(ET.SubElement(root, "Response"), "Status", code=str(code),
                           text="OK" if code < 300 else "Error")  # fmt: skip
    status.text = text
    doctype = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{CXML_VERSION}/cXML.dtd">'
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{ET.tostring(root, encoding="unicode")}\n'.encode()


def _parse(raw: bytes) -> etree._Element:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)  # fmt: skip
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise Refused(400, f"not well-formed XML: {str(exc)[:200]}") from None
    if root is None or root.tag != "cXML":
        raise Refused(400, "the document is not cXML (root element must be cXML)")
    return root


def _kind(root: etree._Element) -> str:
    request = root.find("Request")
    if request is None or len(request) != 1:
        raise Refused(400, "expected one Request with one of ConfirmationRequest, ShipNoticeRequest, "
                           "InvoiceDetailRequest")  # fmt: skip
    tag = str(request[0].tag)
    if tag not in KINDS:
        raise Refused(406, f"{tag[:40]} is not accepted here: send ConfirmationRequest, ShipNoticeRequest or "
                           "InvoiceDetailRequest")  # fmt: skip
    return tag


def _supplier(session: Session, root: etree._Element, secret_key: str) -> Supplier:
    cred = root.find("Header/From/Credential")
    secret = root.findtext("Header/Sender/Credential/SharedSecret") or ""
    if cred is None:
        raise Refused(401, "Header/From/Credential is missing: who sends this?")
    domain, identity = (cred.get("domain") or "").strip(), (cred.findtext("Identity") or "").strip()
    profile = session.scalar(select(SupplierProfile).where(
        func.lower(SupplierProfile.to_domain) == domain.lower(), SupplierProfile.to_identity == identity))  # fmt: skip
    stored = secret_box.unseal(secret_key, profile.shared_secret_enc) if profile is not None else ""
    if profile is None or not stored or not hmac.compare_digest(stored.encode(), secret.encode()):
        raise Refused(401, f"unknown sender {domain[:40]}:{identity[:100]} or wrong SharedSecret")
    supplier = session.get(Supplier, profile.supplier_id)
    assert supplier is not None
    return supplier


def receive(session: Session, raw: bytes, secret_key: str, clock: Clock) -> InboundResult:
    """Store, authenticate and book one inbound cXML document; never raises for bad input."""
    doc: InboundDocument | None = None
    try:
        root = _parse(raw)
        kind = _kind(root)
        sent_id = (root.get("payloadID") or "")[:250]
        supplier = _supplier(session, root, secret_key)
        doc = fields.store(session, "cxml", KINDS[kind], raw, clock, supplier_id=supplier.id, payload_id=sent_id)
        body = root.find("Request")[0]
        with session.begin_nested():
            text = _book(session, kind, body, supplier, doc, clock)
        _audit(session, doc, f"supplier:{supplier.code}", 200, text, clock)
        return InboundResult(200, text, response(200, text, clock), doc.id)
    except Refused as exc:
        code, message = exc.code, exc.message
    except DomainError as exc:
        code, message = (409 if exc.status == 409 else 400), f"{exc.message}" + (f" ({exc.field})" if exc.field else "")
    if doc is None:
        doc = fields.store(session, "cxml", "unknown", raw, clock, outcome="refused", error=message)
    else:
        doc.outcome, doc.error = "refused", message[:2000]
    _audit(session, doc, "cxml:unauthenticated" if doc.supplier_id is None else f"supplier-id:{doc.supplier_id}", code,
           message, clock)  # fmt: skip
    return InboundResult(code, message, response(code, message, clock), doc.id)


def _audit(session: Session, doc: InboundDocument, actor: str, code: int, text: str, clock: Clock) -> None:
    session.flush()
    audit.record(session, actor, f"inbound.{doc.outcome}", "inbound_document", doc.id,
                 after={"channel": doc.channel, "kind": doc.kind, "payload_id": doc.payload_id, "status": code,
                        "po_id": doc.po_id, "bytes": len(doc.content)}, comment=text[:500], clock=clock)  # fmt: skip


def _po_for(session: Session, order_id: str, supplier: Supplier) -> PurchaseOrder:
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == order_id))
    if po is None or po.supplier_id != supplier.id:
        raise DomainError(
            lazy_gettext("no order %(order_id)s of %(code)s", order_id=repr(order_id[:32]), code=supplier.code),
            field="orderID",
        )
    return po


def _book(session: Session, kind: str, body: etree._Element, supplier: Supplier, doc: InboundDocument,
          clock: Clock) -> str:  # fmt: skip
    actor = f"supplier:{supplier.code}"
    if kind == "ConfirmationRequest":
        data = confirmation(body)
        doc.po_id = _po_for(session, data.po_number, supplier).id
        ack = acknowledge.record(session, data, doc.id, clock, actor)
        return f"confirmation of {data.po_number} recorded: {ack.status.replace('_', ' ')}"
    if kind == "ShipNoticeRequest":
        notice = ship_notice(body)
        doc.po_id = _po_for(session, notice.po_number, supplier).id
        asn.record(session, notice, doc.id, clock, actor)
        return f"ship notice {notice.shipment_id} for {notice.po_number} recorded"
    bill = invoice(body, supplier.code)
    doc.po_id = _po_for(session, bill.po_number, supplier).id
    booked = invoices.record(session, bill, "cxml", doc.id, clock, actor)
    return f"invoice {bill.invoice_number} recorded: {booked.status}"


def _attr(node: etree._Element | None, name: str, what: str) -> str:
    value = node.get(name) if node is not None else None
    if not value:
        raise DomainError(lazy_gettext("%(what)s@%(name)s is missing", what=what, name=name), field=name)
    return str(value)


def _date_or_none(raw: str | None, field: str) -> date | None:
    return fields.day(raw, field) if raw else None


def confirmation(body: etree._Element) -> acknowledge.AckInput:
    header = body.find("ConfirmationHeader")
    kind = _attr(header, "type", "ConfirmationHeader")
    order_id = _attr(body.find("OrderReference"), "orderID", "OrderReference")
    lines: list[acknowledge.AckLineInput] = []
    for item in body.findall("ConfirmationItem"):
        number = fields.quantity(_attr(item, "lineNumber", "ConfirmationItem"), "lineNumber", 1)
        statuses = item.findall("ConfirmationStatus")
        if any(s.get("type") == "reject" for s in statuses) and all(s.get("type") == "reject" for s in statuses):
            lines.append(acknowledge.AckLineInput(number, "reject"))
            continue
        kept = [s for s in statuses if s.get("type") in ("accept", "detail", "allDetail", "backordered")]
        qty = sum(fields.quantity(s.get("quantity", "0"), f"line {number} quantity") for s in kept) if kept else None
        price_text = next((s.findtext("UnitPrice/Money") for s in kept if s.find("UnitPrice/Money") is not None), None)
        when = next((s.get("deliveryDate") for s in kept if s.get("deliveryDate")), None)
        lines.append(acknowledge.AckLineInput(
            number, "change", qty or None, fields.price(price_text, f"line {number} price") if price_text else None,
            _date_or_none(when, f"line {number} deliveryDate")))  # fmt: skip
    comment = fields.text(header.findtext("Comments") if header is not None else "", "Comments", 2000)
    return acknowledge.AckInput(order_id, kind == "reject", tuple(lines), comment)


def ship_notice(body: etree._Element) -> asn.ShipNoticeInput:
    header = body.find("ShipNoticeHeader")
    shipment = fields.text(_attr(header, "shipmentID", "ShipNoticeHeader"), "shipmentID", 64)
    portion = body.find("ShipNoticePortion")
    order_id = _attr(portion.find("OrderReference") if portion is not None else None, "orderID", "OrderReference")
    lines = tuple((fields.quantity(_attr(i, "lineNumber", "ShipNoticeItem"), "lineNumber", 1),
                   fields.quantity(_attr(i, "quantity", "ShipNoticeItem"), "quantity", 1))
                  for i in (portion.findall("ShipNoticeItem") if portion is not None else []))  # fmt: skip
    assert header is not None
    shipped = fields.day(header.get("shipmentDate") or header.get("noticeDate") or "", "shipmentDate")
    return asn.ShipNoticeInput(
        order_id, shipment, shipped, lines, _date_or_none(header.get("deliveryDate"), "deliveryDate"),
        fields.text(body.findtext("ShipControl/CarrierIdentifier"), "CarrierIdentifier", 100),
        fields.text(body.findtext("ShipControl/ShipmentIdentifier"), "ShipmentIdentifier", 100),
    )  # fmt: skip


def invoice(body: etree._Element, supplier_code: str) -> invoices.InvoiceInput:
    header = body.find("InvoiceDetailRequestHeader")
    number = fields.text(_attr(header, "invoiceID", "InvoiceDetailRequestHeader"), "invoiceID", 64)
    when = fields.day(_attr(header, "invoiceDate", "InvoiceDetailRequestHeader"), "invoiceDate")
    order = body.find("InvoiceDetailOrder")
    info = order.find("InvoiceDetailOrderInfo") if order is not None else None
    ref = None if info is None else (info.find("OrderReference") if info.find("OrderReference") is not None
                                     else info.find("OrderIDInfo"))  # fmt: skip
    if ref is not None and not ref.get("orderID"):
        payload = ref.find("DocumentReference")
        payload_id = (payload.get("payloadID", "") if payload is not None else "")[:60]
        raise DomainError(lazy_gettext("InvoiceDetailOrderInfo names no orderID (only DocumentReference payloadID "
                                       "%(payload_id)s): send OrderReference@orderID with our PO number",
                                       payload_id=repr(payload_id)), field="orderID")  # fmt: skip
    order_id = _attr(ref, "orderID", "InvoiceDetailOrderInfo/OrderReference")
    lines: list[tuple[int, int, Decimal]] = []
    currency = ""
    for item in order.findall("InvoiceDetailItem") if order is not None else []:
        money = item.find("UnitPrice/Money")
        currency = currency or (money.get("currency", "") if money is not None else "")
        line = fields.quantity(_attr(item.find("InvoiceDetailItemReference"), "lineNumber",
                                     "InvoiceDetailItemReference"), "lineNumber", 1)  # fmt: skip
        lines.append((line, fields.quantity(_attr(item, "quantity", "InvoiceDetailItem"), f"line {line} quantity", 1),
                      fields.price(money.text if money is not None else "", f"line {line} UnitPrice")))  # fmt: skip
    tax = body.findtext("InvoiceDetailSummary/Tax/Money") or "0"
    return invoices.InvoiceInput(supplier_code, order_id, number, when, currency, tuple(lines),
                                 fields.price(tax, "Tax"))  # fmt: skip
