"""A supplier-side simulator: it reads the PO e-mail our system sent to a real aiosmtpd server, follows the signed
link with a plain HTTP client (its own cookie jar, the form's CSRF field, as a browser would), and speaks cXML to
the inbound endpoint with its SharedSecret. It knows nothing of vendtrack's code: only e-mail, HTML and cXML."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage

FULFILL = '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/Fulfill.dtd">'
INVOICE = '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.037/InvoiceDetail.dtd">'


@dataclass(frozen=True, slots=True)
class ReceivedOrder:
    po_number: str
    link: str
    pdf: bytes
    reply_to: str


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: str


class SupplierSimulator:
    def __init__(self, domain: str, identity: str, shared_secret: str, buyer_identity: tuple[str, str]) -> None:
        self.domain, self.identity, self.secret, self.buyer = domain, identity, shared_secret, buyer_identity
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    # ---- e-mail -----------------------------------------------------------------------------------

    @staticmethod
    def read_order(msg: EmailMessage) -> ReceivedOrder:
        number = re.search(r"Purchase order (\S+)", str(msg["Subject"]))
        plain = msg.get_body(("plain",))
        assert number is not None and plain is not None, "not a purchase-order e-mail"
        link = re.search(r"https?://\S+/supplier/respond/\S+", plain.get_content())
        assert link is not None, "the e-mail carries no answer link"
        (pdf,) = [p.get_content() for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        return ReceivedOrder(number.group(1), link.group(0), pdf, str(msg["Reply-To"] or ""))

    # ---- the signed link, as a browser ----------------------------------------------------------------

    def _request(self, url: str, data: dict[str, str] | None = None) -> HttpAnswer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self._opener.open(urllib.request.Request(url, data=body), timeout=20) as resp:
                return HttpAnswer(resp.status, resp.read().decode())
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, exc.read().decode(errors="replace"))

    def open_link(self, link: str) -> HttpAnswer:
        return self._request(link)

    def _form(self, link: str, action: str, fields: dict[str, str]) -> HttpAnswer:
        page = self._request(link)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.body)
        assert token is not None, f"no form on the link page ({page.status})"
        return self._request(f"{link}/{action}", {"csrf_token": token.group(1), **fields})

    def confirm(self, link: str, lines: dict[int, dict[str, str]], comment: str = "") -> HttpAnswer:
        """Answer per line: {1: {"action": "change", "date": "2026-03-27"}, 2: {"action": "accept"}}."""
        fields = {"comment": comment}
        for number, answer in lines.items():
            fields[f"action_{number}"] = answer.get("action", "accept")
            for key in ("quantity", "price", "date"):
                if key in answer:
                    fields[f"{key}_{number}"] = answer[key]
        return self._form(link, "acknowledge", fields)

    def ship(self, link: str, shipment_id: str, shipped: date, expected: date,
             quantities: dict[int, int]) -> HttpAnswer:  # fmt: skip
        fields = {"shipment_id": shipment_id, "ship_date": shipped.isoformat(), "expected_date": expected.isoformat(),
                  "carrier": "DHL", "tracking_number": "JD0146000012345"}  # fmt: skip
        fields.update({f"ship_{n}": str(q) for n, q in quantities.items()})
        return self._form(link, "ship", fields)

    # ---- cXML ---------------------------------------------------------------------------------------

    def _envelope(self, secret: str | None = None) -> tuple[ET.Element, ET.Element]:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        root = ET.Element("cXML", {"payloadID": f"{secrets.token_hex(8)}@supplier.example", "timestamp": now,
                                   "xml:lang": "en-US"})  # fmt: skip
        header = ET.SubElement(root, "Header")
        for tag, (dom, ident) in (("From", (self.domain, self.identity)), ("To", self.buyer)):
            cred = ET.SubElement(ET.SubElement(header, tag), "Credential", domain=dom)
            ET.SubElement(cred, "Identity").text = ident
        sender = ET.SubElement(header, "Sender")
        cred = ET.SubElement(sender, "Credential", domain=self.domain)
        ET.SubElement(cred, "Identity").text = self.identity
        ET.SubElement(cred, "SharedSecret").text = self.secret if secret is None else secret
        ET.SubElement(sender, "UserAgent").text = "supplier simulator 1.0"
        return root, ET.SubElement(root, "Request", deploymentMode="production")

    @staticmethod
    def _doc(root: ET.Element, doctype: str) -> bytes:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{ET.tostring(root, encoding="unicode")}'.encode()

    def confirmation_cxml(self, po_number: str, lines: dict[int, tuple[int, str, date | None, str | None]],
                          kind: str = "detail", secret: str | None = None) -> bytes:  # fmt: skip
        """lines: {line: (quantity, status type, delivery date, unit price)}."""
        root, request = self._envelope(secret)
        confirm = ET.SubElement(request, "ConfirmationRequest")
        ET.SubElement(confirm, "ConfirmationHeader", type=kind, noticeDate=datetime.now(UTC).isoformat(
            timespec="seconds"), confirmID=f"C-{po_number}")  # fmt: skip
        ref = ET.SubElement(confirm, "OrderReference", orderID=po_number)
        ET.SubElement(ref, "DocumentReference", payloadID=f"{po_number}@buyer")
        for number, (qty, status, when, price) in lines.items():
            item = ET.SubElement(confirm, "ConfirmationItem", quantity=str(qty), lineNumber=str(number))
            ET.SubElement(item, "UnitOfMeasure").text = "EA"
            attrs = {"quantity": str(qty), "type": status}
            if when:
                attrs["deliveryDate"] = f"{when.isoformat()}T00:00:00+00:00"
            st = ET.SubElement(item, "ConfirmationStatus", attrs)
            ET.SubElement(st, "UnitOfMeasure").text = "EA"
            if price:
                ET.SubElement(ET.SubElement(st, "UnitPrice"), "Money", currency="USD").text = price
        return self._doc(root, FULFILL)

    def ship_notice_cxml(self, po_number: str, shipment_id: str, shipped: date, quantities: dict[int, int]) -> bytes:
        root, request = self._envelope()
        notice = ET.SubElement(request, "ShipNoticeRequest")
        ET.SubElement(notice, "ShipNoticeHeader", shipmentID=shipment_id, noticeDate=datetime.now(UTC).isoformat(
            timespec="seconds"), shipmentDate=f"{shipped.isoformat()}T08:00:00+00:00")  # fmt: skip
        control = ET.SubElement(notice, "ShipControl")
        ET.SubElement(control, "CarrierIdentifier", domain="companyName").text = "UPS"
        ET.SubElement(control, "ShipmentIdentifier").text = "1Z999AA10123456784"
        portion = ET.SubElement(notice, "ShipNoticePortion")
        ET.SubElement(ET.SubElement(portion, "OrderReference", orderID=po_number), "DocumentReference",
                      payloadID=f"{po_number}@buyer")  # fmt: skip
        for number, qty in quantities.items():
            item = ET.SubElement(portion, "ShipNoticeItem", quantity=str(qty), lineNumber=str(number))
            ET.SubElement(item, "UnitOfMeasure").text = "EA"
        return self._doc(root, FULFILL)

    def invoice_cxml(self, po_number: str, invoice_id: str, lines: dict[int, tuple[int, str]], tax: str = "0.00",
                     currency: str = "USD") -> bytes:  # fmt: skip
        """lines: {PO line: (quantity, unit price)}."""
        root, request = self._envelope()
        inv = ET.SubElement(request, "InvoiceDetailRequest")
        head = ET.SubElement(inv, "InvoiceDetailRequestHeader", invoiceID=invoice_id, purpose="standard",
                             operation="new", invoiceDate=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
        ET.SubElement(head, "InvoiceDetailHeaderIndicator")
        ET.SubElement(head, "InvoiceDetailLineIndicator")
        order = ET.SubElement(inv, "InvoiceDetailOrder")
        ref = ET.SubElement(ET.SubElement(order, "InvoiceDetailOrderInfo"), "OrderReference", orderID=po_number)
        ET.SubElement(ref, "DocumentReference", payloadID=f"{po_number}@buyer")
        subtotal = 0.0
        for n, (number, (qty, price)) in enumerate(lines.items(), start=1):
            item = ET.SubElement(order, "InvoiceDetailItem", invoiceLineNumber=str(n), quantity=str(qty))
            ET.SubElement(item, "UnitOfMeasure").text = "EA"
            ET.SubElement(ET.SubElement(item, "UnitPrice"), "Money", currency=currency).text = price
            ET.SubElement(item, "InvoiceDetailItemReference", lineNumber=str(number))
            ET.SubElement(ET.SubElement(item, "SubtotalAmount"), "Money", currency=currency).text = (
                f"{qty * float(price):.2f}")
            subtotal += qty * float(price)
        summary = ET.SubElement(inv, "InvoiceDetailSummary")
        ET.SubElement(ET.SubElement(summary, "SubtotalAmount"), "Money", currency=currency).text = f"{subtotal:.2f}"
        tax_node = ET.SubElement(summary, "Tax")
        ET.SubElement(tax_node, "Money", currency=currency).text = tax
        ET.SubElement(tax_node, "Description", {"xml:lang": "en"}).text = "sales tax"
        ET.SubElement(ET.SubElement(summary, "NetAmount"), "Money", currency=currency).text = (
            f"{subtotal + float(tax):.2f}")
        return self._doc(root, INVOICE)

    def post_cxml(self, url: str, body: bytes) -> HttpAnswer:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:  # a machine: no cookies
                return HttpAnswer(resp.status, resp.read().decode())
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, exc.read().decode(errors="replace"))
