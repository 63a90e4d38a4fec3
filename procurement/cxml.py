"""cXML 1.2 OrderRequest export of a PO (Header From/To/Sender, OrderRequestHeader, one ItemOut per line)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal

from core.errors import DomainError
from procurement.documents import Party, PoContext

CXML_VERSION = "1.2.014"
DOCTYPE = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{CXML_VERSION}/cXML.dtd">'
UNSPSC_UNKNOWN = "00000000"


def _money(parent: ET.Element, currency: str, amount: Decimal) -> None:
    ET.SubElement(parent, "Money", currency=currency).text = f"{amount:.2f}"


def _credential(parent: ET.Element, tag: str, domain: str, identity: str, secret: str | None = None) -> None:
    cred = ET.SubElement(ET.SubElement(parent, tag), "Credential", domain=domain)
    ET.SubElement(cred, "Identity").text = identity
    if secret is not None:
        ET.SubElement(cred, "SharedSecret").text = secret


def _address(parent: ET.Element, tag: str, party: Party, country: str) -> None:
    address = ET.SubElement(ET.SubElement(parent, tag), "Address", isoCountryCode=country, addressID=party.code)
    ET.SubElement(address, "Name", {"xml:lang": "en"}).text = party.name
    postal = ET.SubElement(address, "PostalAddress")
    lines = list(party.lines) or [party.name]
    street_lines, city = (lines[:-1], lines[-1]) if len(lines) > 1 else (lines, "")
    ET.SubElement(postal, "DeliverTo").text = party.name
    for line in street_lines:
        ET.SubElement(postal, "Street").text = line
    ET.SubElement(postal, "City").text = city
    ET.SubElement(postal, "Country", isoCountryCode=country).text = country


def order_request(
    ctx: PoContext,
    now: datetime,
    buyer_identity: str = "vendtrack",
    deployment: str = "production",
) -> bytes:
    """A well-formed cXML OrderRequest (UTF-8, with the DOCTYPE) for `ctx`.

    cXML addresses need an ISO country code: the ship-to site's, refused (naming the fix) when it is not set."""
    country = ctx.country.strip().upper()
    if len(country) != 2:
        raise DomainError(
            f"site {ctx.ship_to.code} has no country: set its two-letter code on the Sites admin page "
            "(cXML addresses need one)",
            field="country",
            status=422,
        )
    root = ET.Element(
        "cXML",
        {"payloadID": f"{ctx.po_number}.{int(now.timestamp())}@vendtrack",
         "timestamp": now.isoformat(timespec="seconds"), "xml:lang": "en-US", "version": CXML_VERSION},
    )  # fmt: skip
    header = ET.SubElement(root, "Header")
    _credential(header, "From", "NetworkID", buyer_identity)
    _credential(header, "To", "NetworkID", ctx.supplier.code)
    sender = ET.SubElement(header, "Sender")
    cred = ET.SubElement(sender, "Credential", domain="NetworkID")
    ET.SubElement(cred, "Identity").text = buyer_identity
    ET.SubElement(sender, "UserAgent").text = "vendtrack"
    order = ET.SubElement(ET.SubElement(root, "Request", deploymentMode=deployment), "OrderRequest")
    head = ET.SubElement(
        order, "OrderRequestHeader", orderID=ctx.po_number, orderDate=ctx.order_date.isoformat(timespec="seconds"),
        type="new",
    )  # fmt: skip
    _money(ET.SubElement(head, "Total"), ctx.currency, ctx.total)
    _address(head, "ShipTo", ctx.ship_to, country)
    _address(head, "BillTo", ctx.buyer, country)
    tax = ET.SubElement(head, "Tax")
    _money(tax, ctx.currency, ctx.tax)
    ET.SubElement(tax, "Description", {"xml:lang": "en"}).text = f"tax {ctx.tax_rate * 100:.2f} %"
    ET.SubElement(head, "Comments", {"xml:lang": "en"}).text = f"Terms: {ctx.terms}"
    for r in ctx.lines:
        item = ET.SubElement(order, "ItemOut", quantity=str(r.quantity), lineNumber=str(r.line_number))
        ids = ET.SubElement(item, "ItemID")
        ET.SubElement(ids, "SupplierPartID").text = r.supplier_part_number or r.sku
        ET.SubElement(ids, "BuyerPartID").text = r.sku
        detail = ET.SubElement(item, "ItemDetail")
        _money(ET.SubElement(detail, "UnitPrice"), ctx.currency, r.unit_price)
        ET.SubElement(detail, "Description", {"xml:lang": "en"}).text = r.description
        ET.SubElement(detail, "UnitOfMeasure").text = r.unit
        ET.SubElement(detail, "Classification", domain="UNSPSC").text = UNSPSC_UNKNOWN
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{DOCTYPE}\n{body}\n'.encode()
