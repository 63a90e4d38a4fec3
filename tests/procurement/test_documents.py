"""PO documents: PDF (escaping, Greek/Chinese, repeated header, page x of y, barcode), CSV and cXML exports."""

from __future__ import annotations

import dataclasses
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.errors import DomainError
from procurement import cxml, pdf
from procurement.csv_export import to_csv
from procurement.cxml import Credential, CxmlParties
from procurement.documents import LineRow, Party, PoContext, PostalAddress


def context(lines: int = 3, supplier: str = "<b>Acme & Sons</b>", description: str = "Nitrile gloves") -> PoContext:
    rows = tuple(
        LineRow(i, f"SKU-{i}", f"SP-{i}", f"{description} {i}", 6 * i, "EA", Decimal("9.20"), Decimal("9.20") * 6 * i)
        for i in range(1, lines + 1)
    )
    subtotal = sum((r.extended for r in rows), Decimal("0"))
    return PoContext(
        po_number="PO-000042", status="approved", currency="USD", order_date=datetime(2026, 3, 2, 9, tzinfo=UTC),
        buyer=Party("Riverside Purchasing", ("Dock 2", "Springfield"), "PLANT1"),
        supplier=Party(supplier, ("Οδός Αθηνάς 5", "深圳"), "ACME", "orders@acme.example"),
        ship_to=Party("Plant One", ("Dock 2", "Springfield"), "PLANT1"), lines=rows, subtotal=subtotal,
        tax_rate=Decimal("0.08"), tax=(subtotal * Decimal("0.08")).quantize(Decimal("0.01")),
        total=subtotal + (subtotal * Decimal("0.08")).quantize(Decimal("0.01")), terms="Net 30 & <i>no</i> surprises",
        approved_by="user:ann", approved_at=datetime(2026, 3, 2, 10, 5, tzinfo=UTC), country="DE",
        ship_to_postal=PostalAddress(("Dock 2", "Hafenstraße 7"), "Hamburg", "HH", "20457", "DE"),
    )  # fmt: skip


PARTIES = CxmlParties(Credential("DUNS", "123456789"), Credential("NetworkID", "AN01000000042"),
                      Credential("DUNS", "123456789"), "coyote")  # fmt: skip


def _text(content: bytes) -> list[str]:
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF text back (pip install pypdf)")
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [page.extract_text() for page in reader.pages]


def test_markup_escapes_and_switches_font_for_chinese() -> None:
    assert pdf.markup("<b>Acme & Sons</b>") == "&lt;b&gt;Acme &amp; Sons&lt;/b&gt;"
    assert pdf.markup("Ωμέγα") == "Ωμέγα"  # DejaVu has Greek
    assert pdf.markup("深圳 Tools") == f'<font name="{pdf.fonts().cjk}">深圳</font> Tools'


def test_pdf_prints_hostile_and_unicode_text_literally() -> None:
    ctx = context(supplier="<b>Acme & Sons</b> Ωμέγα 深圳工具")
    content = pdf.render(ctx)
    assert content.startswith(b"%PDF")
    text = " ".join(_text(content))
    for expected in ("<b>Acme & Sons</b>", "Ωμέγα", "深圳工具", "Οδός Αθηνάς 5", "Net 30 & <i>no</i> surprises",
                     "Approved by ann on 2026-03-02 10:05 UTC", "PO-000042", "Subtotal", "Total"):  # fmt: skip
        assert expected in text, expected


def test_many_lines_repeat_the_header_and_number_pages() -> None:
    pages = _text(pdf.render(context(lines=120)))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "PO-000042" in page and "PURCHASE ORDER" in page  # the page header
        if "SKU-" in page:  # a page with lines repeats the line header
            assert "Supplier part" in page and "Unit price" in page


def test_same_context_gives_same_bytes() -> None:
    assert pdf.render(context()) == pdf.render(context())


def test_pdf_embeds_a_code128_barcode_of_the_po_number() -> None:
    barcode = pdf.barcode_for("PO-000042")
    assert barcode.value == "PO-000042" and barcode.width > 0


def test_csv_export_defuses_formulas() -> None:
    text = to_csv(context(lines=1, description="=HYPERLINK(evil)"))
    assert text.splitlines()[0].startswith("po_number,supplier_code")
    assert "'=HYPERLINK(evil) 1" in text


def test_cxml_order_request_is_well_formed_and_structured() -> None:
    body = cxml.order_request(context(lines=2), datetime(2026, 3, 2, 11, tzinfo=UTC), PARTIES)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE cXML SYSTEM')
    root = ET.fromstring(body.split(b"\n", 2)[2])
    assert root.tag == "cXML" and root.get("payloadID", "").count("@") == 1
    assert [c.tag for c in root] == ["Header", "Request"]
    assert [c.tag for c in root.find("Header")] == ["From", "To", "Sender"]  # type: ignore[union-attr]
    head = root.find("Request/OrderRequest/OrderRequestHeader")
    assert head is not None and head.get("orderID") == "PO-000042" and head.get("type") == "new"
    assert [c.tag for c in head][:4] == ["Total", "ShipTo", "BillTo", "Tax"]
    assert head.findtext("ShipTo/Address/PostalAddress/PostalCode") == "20457"
    assert head.findtext("Total/Money") == "178.85"  # 9.20 × (6 + 12) = 165.60 + 8 % tax 13.25
    items = root.findall("Request/OrderRequest/ItemOut")
    assert [i.get("lineNumber") for i in items] == ["1", "2"]
    detail = items[0].find("ItemDetail")
    assert detail is not None and [c.tag for c in detail] == ["UnitPrice", "Description", "UnitOfMeasure",
                                                               "Classification"]  # fmt: skip
    assert items[0].findtext("ItemID/SupplierPartID") == "SP-1"
    assert "<b>Acme &amp; Sons</b>" not in body.decode()  # supplier name is not in an OrderRequest, only its code
    countries = {c.get("isoCountryCode") for c in head.iter() if c.get("isoCountryCode") is not None}
    assert countries == {"DE"}, "ship-to and bill-to carry the site's country"


def test_cxml_refuses_a_site_without_a_country() -> None:
    with pytest.raises(DomainError, match="site PLANT1 has no country"):
        cxml.order_request(dataclasses.replace(context(), country="", ship_to_postal=None),
                           datetime(2026, 3, 2, 11, tzinfo=UTC), PARTIES)  # fmt: skip
