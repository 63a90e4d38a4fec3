"""cXML 1.2.063 OrderRequest export of a PO, per supplier profile.

Header From/To/Sender carry the supplier profile's credentials (domain + identity, e.g. DUNS or NetworkID) and the
Sender the SharedSecret; every line carries its UNSPSC code; addresses are complete (street, city, state, postal
code, ISO country). Only an approved order is a production document: anything else exports as
`deploymentMode="test"` with a "TEST – NOT AN ORDER" comment, so a receiver can never book a draft.
The output validates against the cXML DTD of the version it declares (tests/procurement/test_cxml_dtd.py).
"""

from __future__ import annotations

import os
import secrets
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext

from core.errors import DomainError
from procurement.documents import Party, PoContext, PostalAddress

CXML_VERSION = "1.2.063"
DOCTYPE = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{CXML_VERSION}/cXML.dtd">'
USER_AGENT = "vendtrack procurement"


@dataclass(frozen=True, slots=True)
class Credential:
    domain: str
    identity: str


@dataclass(frozen=True, slots=True)
class CxmlParties:
    """From (the buyer), To (the supplier), Sender (who sends: the buyer or its network) and the SharedSecret."""

    sender_from: Credential
    to: Credential
    sender: Credential
    shared_secret: str = ""

    def missing(self) -> str | None:
        """The first role ("From", "To", "Sender") without a domain and identity, or None: an OrderRequest can be
        written."""
        for role, cred in (("From", self.sender_from), ("To", self.to), ("Sender", self.sender)):
            if not cred.domain.strip() or not cred.identity.strip():
                return role
        return None

    def check(self, supplier_code: str) -> None:
        if (role := self.missing()) is not None:
            raise DomainError(
                lazy_gettext("supplier %(supplier_code)s has no cXML %(role)s identity: set domain and identity "
                             "(e.g. DUNS 123456789 or NetworkID AN01000000001) on the supplier's document profile",
                             supplier_code=supplier_code, role=role),
                field=f"{role.lower()}_identity", status=422,
            )  # fmt: skip


def payload_id(now: datetime) -> str:
    """`timestamp.process.random@host`: unique even for two exports in the same millisecond."""
    return f"{int(now.timestamp() * 1000)}.{os.getpid()}.{secrets.token_hex(8)}@{socket.gethostname() or 'vendtrack'}"


def _money(parent: ET.Element, currency: str, amount: Decimal) -> None:
    ET.SubElement(parent, "Money", currency=currency).text = f"{amount:.2f}"


def _credential(parent: ET.Element, cred: Credential, secret: str = "") -> None:
    node = ET.SubElement(parent, "Credential", domain=cred.domain)
    ET.SubElement(node, "Identity").text = cred.identity
    if secret:
        ET.SubElement(node, "SharedSecret").text = secret


def _postal(parent: ET.Element, deliver_to: str, postal: PostalAddress) -> None:
    node = ET.SubElement(parent, "PostalAddress")
    if deliver_to:
        ET.SubElement(node, "DeliverTo").text = deliver_to
    for line in postal.street:
        ET.SubElement(node, "Street").text = line
    ET.SubElement(node, "City").text = postal.city
    if postal.state:
        ET.SubElement(node, "State").text = postal.state
    if postal.postal_code:
        ET.SubElement(node, "PostalCode").text = postal.postal_code
    ET.SubElement(node, "Country", isoCountryCode=postal.country).text = postal.country


def _address(parent: ET.Element, tag: str, party: Party, postal: PostalAddress, deliver_to: str) -> None:
    address = ET.SubElement(ET.SubElement(parent, tag), "Address", isoCountryCode=postal.country, addressID=party.code)
    ET.SubElement(address, "Name", {"xml:lang": "en"}).text = party.name
    _postal(address, deliver_to, postal)
    if party.email:
        ET.SubElement(address, "Email", name="default").text = party.email


def _checked_postal(ctx: PoContext) -> PostalAddress:
    postal = ctx.ship_to_postal or PostalAddress((), "", "", "", ctx.country.upper())
    fix = "on the site's procurement settings page"
    if len(postal.country) != 2:
        raise DomainError(lazy_gettext("site %(code)s has no country: set its two-letter code on the Sites admin page"
                                       " (cXML addresses need one)", code=ctx.ship_to.code),
                          field="country", status=422)  # fmt: skip
    if not postal.street or not postal.city:
        raise DomainError(lazy_gettext("site %(code)s has no street and city for cXML: enter them %(fix)s",
                                       code=ctx.ship_to.code, fix=fix),
                          field="street", status=422)  # fmt: skip
    return postal


def order_request(ctx: PoContext, now: datetime, parties: CxmlParties) -> bytes:
    """A cXML OrderRequest (UTF-8, with the DOCTYPE) for `ctx`; production only for an approved order."""
    postal = _checked_postal(ctx)
    parties.check(ctx.supplier.code)
    root = ET.Element("cXML", {"payloadID": payload_id(now), "timestamp": now.isoformat(timespec="seconds"),
                               "xml:lang": "en-US", "version": CXML_VERSION})  # fmt: skip
    header = ET.SubElement(root, "Header")
    _credential(ET.SubElement(header, "From"), parties.sender_from)
    _credential(ET.SubElement(header, "To"), parties.to)
    sender = ET.SubElement(header, "Sender")
    _credential(sender, parties.sender, parties.shared_secret)
    ET.SubElement(sender, "UserAgent").text = USER_AGENT
    mode = "production" if ctx.is_order else "test"
    order = ET.SubElement(ET.SubElement(root, "Request", deploymentMode=mode), "OrderRequest")
    attrs = {"orderID": ctx.po_number, "orderDate": ctx.order_date.isoformat(timespec="seconds"), "type": "new"}
    if ctx.requested_delivery_date:
        attrs["requestedDeliveryDate"] = f"{ctx.requested_delivery_date.isoformat()}T00:00:00+00:00"
    head = ET.SubElement(order, "OrderRequestHeader", attrs)
    _money(ET.SubElement(head, "Total"), ctx.currency, ctx.total)
    _address(head, "ShipTo", ctx.ship_to, postal, ctx.buyer.name)
    _address(head, "BillTo", Party(ctx.buyer.name, ctx.buyer.lines, ctx.buyer.code), postal, "")
    tax = ET.SubElement(head, "Tax")
    _money(tax, ctx.currency, ctx.tax)
    ET.SubElement(tax, "Description", {"xml:lang": "en"}).text = f"tax {ctx.tax_rate * 100:.2f} %"
    if ctx.buyer.email:
        contact = ET.SubElement(head, "Contact", role="buyer")
        ET.SubElement(contact, "Name", {"xml:lang": "en"}).text = ctx.buyer.name
        ET.SubElement(contact, "Email", name="default").text = ctx.buyer.email
    if not ctx.is_order:
        ET.SubElement(head, "Comments", {"xml:lang": "en", "type": "watermark"}).text = (
            f"TEST – NOT AN ORDER: {ctx.po_number} is {ctx.status.replace('_', ' ')} and not approved"
        )
    ET.SubElement(head, "Comments", {"xml:lang": "en"}).text = f"Terms: {ctx.terms}"
    for r in ctx.lines:
        line_attrs = {"quantity": str(r.quantity), "lineNumber": str(r.line_number)}
        wanted = r.requested_date or ctx.requested_delivery_date
        if wanted:
            line_attrs["requestedDeliveryDate"] = wanted.isoformat()
        item = ET.SubElement(order, "ItemOut", line_attrs)
        ids = ET.SubElement(item, "ItemID")
        ET.SubElement(ids, "SupplierPartID").text = r.supplier_part_number or r.sku
        ET.SubElement(ids, "BuyerPartID").text = r.sku
        detail = ET.SubElement(item, "ItemDetail")
        _money(ET.SubElement(detail, "UnitPrice"), ctx.currency, r.unit_price)
        ET.SubElement(detail, "Description", {"xml:lang": "en"}).text = r.description
        ET.SubElement(detail, "UnitOfMeasure").text = r.unit
        if r.unspsc:
            ET.SubElement(detail, "Classification", domain="UNSPSC", code=r.unspsc).text = r.unspsc
        else:  # the DTD needs one Classification: say plainly that the commodity is not classified
            ET.SubElement(detail, "Classification", domain="buyerCategory").text = r.category or "unclassified"
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{DOCTYPE}\n{body}\n'.encode()
