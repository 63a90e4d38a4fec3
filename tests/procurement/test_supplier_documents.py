"""Supplier documents read by real parsers: cXML against its DTD, the e-mail through aiosmtpd and Python's email
parser, the CSV as Excel reads it (BOM), sealed SharedSecrets."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from core.errors import DomainError
from procurement import csv_export, cxml, secret_box, supplier_links, transmit
from procurement.smtp_capture import SmtpCapture
from tests.procurement import cxml_dtd
from tests.procurement.test_documents import PARTIES, context

NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def order(**changes: object) -> cxml_dtd.etree._Element:
    return cxml_dtd.parse(cxml.order_request(dataclasses.replace(context(lines=2), **changes), NOW, PARTIES))


def approved_context() -> object:
    ctx = context(lines=2)
    lines = (dataclasses.replace(ctx.lines[0], unspsc="46181504"),
             dataclasses.replace(ctx.lines[1], requested_date=date(2026, 3, 30)))  # fmt: skip
    buyer = dataclasses.replace(ctx.buyer, email="ann.buyer@plant.example", phone="+49 40 123")
    return dataclasses.replace(ctx, lines=lines, buyer=buyer, requested_delivery_date=date(2026, 3, 20))


def test_approved_order_request_is_valid_per_its_dtd_with_identities_unspsc_and_dates() -> None:
    body = cxml.order_request(approved_context(), NOW, PARTIES)  # type: ignore[arg-type]
    assert cxml_dtd.declared(body) == ("1.2.063", "cXML.dtd")
    assert cxml_dtd.validate(body) == []
    root = cxml_dtd.parse(body)
    assert root.find("Request").get("deploymentMode") == "production"
    assert root.findtext("Header/From/Credential/Identity") == "123456789"
    assert root.find("Header/From/Credential").get("domain") == "DUNS"
    assert root.findtext("Header/To/Credential/Identity") == "AN01000000042"
    assert root.findtext("Header/Sender/Credential/SharedSecret") == "coyote"
    assert root.findall(".//SharedSecret") == root.findall("Header/Sender/Credential/SharedSecret")
    items = root.findall("Request/OrderRequest/ItemOut")
    first = items[0].find("ItemDetail/Classification")
    assert first.get("domain") == "UNSPSC" and first.text == "46181504"
    assert [i.get("requestedDeliveryDate") for i in items] == ["2026-03-20", "2026-03-30"]
    postal = root.find("Request/OrderRequest/OrderRequestHeader/ShipTo/Address/PostalAddress")
    assert [c.tag for c in postal] == ["DeliverTo", "Street", "Street", "City", "State", "PostalCode", "Country"]
    assert root.findtext(".//Contact[@role='buyer']/Email") == "ann.buyer@plant.example"


def test_a_pending_order_exports_only_as_a_test_document_with_a_watermark() -> None:
    body = cxml.order_request(dataclasses.replace(context(), status="pending_approval", approved_by=None,
                                                  approved_at=None), NOW, PARTIES)  # fmt: skip
    assert cxml_dtd.validate(body) == []
    root = cxml_dtd.parse(body)
    assert root.find("Request").get("deploymentMode") == "test"
    watermark = root.findtext(".//OrderRequestHeader/Comments[@type='watermark']")
    assert watermark is not None and watermark.startswith("TEST – NOT AN ORDER: PO-000042 is pending approval")


def test_payload_ids_are_unique_within_one_instant_and_of_the_usual_form() -> None:
    ids = {cxml.payload_id(NOW) for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"\d{13}\.\d+\.[0-9a-f]{16}@[\w.-]+", i) for i in ids)


def test_our_order_request_has_the_structure_of_a_published_example() -> None:
    example = cxml_dtd.sample("OrderRequest.xml")
    assert cxml_dtd.validate(example) == [], "the published example is valid per its own DTD"
    theirs = cxml_dtd.paths(cxml_dtd.parse(example))
    ours = cxml_dtd.paths(cxml_dtd.parse(cxml.order_request(approved_context(), NOW, PARTIES)))  # type: ignore[arg-type]
    # not produced: telephone structures, attached files, per-line free-text comments (our lines have none for
    # the supplier: a line's reason is internal)
    not_used = re.compile(r"/Phone|/Attachment|/URL|ItemOut/Comments")
    missing = {p for p in theirs - ours if not not_used.search(p)}
    assert missing == set(), f"elements of the published OrderRequest that ours lacks: {sorted(missing)}"


def test_missing_identities_and_addresses_are_refused_naming_the_fix() -> None:
    nobody = dataclasses.replace(PARTIES, to=cxml.Credential("NetworkID", ""))
    with pytest.raises(DomainError, match="supplier ACME has no cXML To identity") as err:
        cxml.order_request(context(), NOW, nobody)
    assert err.value.field == "to_identity"
    no_street = dataclasses.replace(context(), ship_to_postal=dataclasses.replace(
        context().ship_to_postal, street=()))  # type: ignore[type-var]  # fmt: skip
    with pytest.raises(DomainError, match="has no street and city"):
        cxml.order_request(no_street, NOW, PARTIES)


def test_csv_in_the_suppliers_profile_with_a_bom_reads_back_as_excel_does() -> None:
    ctx = context(lines=2, description="ΩD-0600 Kühlmittel")
    prof = csv_export.profile("supplier_part_number=Artikel,quantity=Menge,unit_price=Preis,description=Text", ";",
                              True)  # fmt: skip
    text = csv_export.to_csv(ctx, prof)
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Artikel", "Menge", "Preis", "Text"]
    assert rows[1] == ["SP-1", "6", "9.2000", "ΩD-0600 Kühlmittel 1"]
    assert not csv_export.to_csv(ctx).startswith("\ufeff")  # the standard profile has no BOM


@pytest.mark.parametrize(("columns", "delimiter", "field"), [
    ("sku,price", ",", "csv_columns"), ("sku=", ",", "csv_columns"), ("", "x", "csv_delimiter"),
    ("sku=" + "H" * 61, ",", "csv_columns"),
])  # fmt: skip
def test_a_bad_csv_profile_names_the_field(columns: str, delimiter: str, field: str) -> None:
    with pytest.raises(DomainError) as err:
        csv_export.profile(columns, delimiter, False)
    assert err.value.field == field


def test_shared_secrets_are_sealed_with_a_key_derived_from_the_secret_key() -> None:
    token = secret_box.seal("app-secret-1", "coyote")
    assert "coyote" not in token and secret_box.unseal("app-secret-1", token) == "coyote"
    with pytest.raises(DomainError, match="SECRET_KEY changed") as err:
        secret_box.unseal("app-secret-2", token)
    assert err.value.status == 409


def test_po_email_has_date_message_id_reply_to_two_bodies_the_pdf_and_a_signed_link() -> None:
    issued = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    claim = transmit.Claim(1, "tok", "PO-000042", "orders@acme.example", "Acme & Sons", "<PO-000042.abc@plant.example>",
                           b"%PDF-1.4 test", "0" * 64, 1, "user:ann", issued, "Plant One Purchasing",
                           "ann.buyer@plant.example")  # fmt: skip
    with SmtpCapture() as server:
        smtp = transmit.SmtpConfig(server.host, server.port, "robot@plant.example", link_secret="k" * 32,
                                   public_url="https://buy.plant.example")  # fmt: skip
        assert transmit.deliver(smtp, claim) == ""
        (msg,) = server.messages
    assert parsedate_to_datetime(msg["Date"]) == issued
    assert msg["Message-ID"] == "<PO-000042.abc@plant.example>"
    assert msg["Reply-To"].addresses[0].addr_spec == "ann.buyer@plant.example"
    assert msg["From"].addresses[0].display_name == "Plant One Purchasing"
    assert msg.get_content_type() == "multipart/mixed"
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None and "Acme &amp; Sons" in html.get_content()
    link = re.search(r"https://buy\.plant\.example/supplier/respond/(\S+)", plain.get_content())
    assert link is not None and link.group(0) in html.get_content()
    claim_back = supplier_links.verify("k" * 32, link.group(1), issued + timedelta(days=1))
    assert claim_back.po_number == "PO-000042" and claim_back.nonce == supplier_links.nonce_for(claim.message_id)
    (pdf_part,) = [p for p in msg.iter_attachments()]
    assert pdf_part.get_filename() == "PO-000042.pdf" and pdf_part.get_content() == b"%PDF-1.4 test"


def test_po_email_without_a_public_url_asks_for_a_reply_instead_of_a_link() -> None:
    claim = transmit.Claim(1, "tok", "PO-7", "s@x.example", "S", "<m@x>", b"%PDF", "0" * 64, 1, "user:a",
                           datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
    msg = transmit.message(claim, transmit.SmtpConfig("127.0.0.1", 25, "robot@plant.example"))
    assert "/supplier/respond/" not in msg.as_string() and "replying to this e-mail" in msg.as_string()
    assert msg["Reply-To"] is None and msg["Date"] is not None
