"""Inbound supplier documents on SQLite and PostgreSQL: cXML refusals that lose nothing, confirmations above the
approval limit, ship notices, signed-link abuse, hostile form input, invoice CSV, quantity holds and re-match."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.clock import SystemClock
from core.errors import DomainError
from procurement import supplier_links
from procurement.models import InboundDocument, Invoice, PurchaseOrder, PurchaseOrderLine
from procurement.orders import get_po
from procurement.supplier_inbound import cxml_inbound
from tests.conftest import csrf_from, login
from tests.procurement import cxml_dtd
from tests.procurement.supplier_sim import SupplierSimulator
from tests.procurement.supplier_world import BUYER_ID, SECRET, SUPPLIER_ID, make_loop
from tests.procurement.test_supplier_loop import send_po

SIM = SupplierSimulator(SUPPLIER_ID[0], SUPPLIER_ID[1], SECRET, BUYER_ID)


def _sent(app: Flask) -> tuple[Any, str]:
    loop = make_loop(app)
    order = SIM.read_order(send_po(loop, "http://vendtrack.test"))
    return loop, order.link.removeprefix("http://vendtrack.test")


def _cxml(client: FlaskClient, body: bytes) -> tuple[int, str, str]:
    response = client.post("/supplier/cxml", data=body, content_type="text/xml")
    root = cxml_dtd.parse(response.get_data())
    status = root.find("Response/Status")
    return response.status_code, status.get("code"), status.text or ""


def _documents(loop: Any) -> list[tuple[str, str, str]]:
    with loop.world.session() as s:
        rows = s.scalars(select(InboundDocument).order_by(InboundDocument.id)).all()
        return [(d.kind, d.outcome, d.error) for d in rows]


def test_bad_cxml_gets_a_cxml_error_and_is_kept_and_nothing_else_changes(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    xxe = (b'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY x SYSTEM "file:///etc/passwd">]><cXML>&x;</cXML>')
    cases = [
        (b"<cXML><Header>", "400", "not well-formed XML"),
        (xxe, "400", ""),
        (b"<html/>", "400", "not cXML"),
        (SIM.confirmation_cxml(loop.po_number, {1: (36, "accept", None, None)}, secret="guess"), "401",
         "wrong SharedSecret"),
        (SIM.invoice_cxml(loop.po_number, "INV-X", {1: (1, "NaN")}), "400", "is not a price"),
        (SIM.invoice_cxml("PO-999999", "INV-Y", {1: (1, "1.00")}), "400", "no order 'PO-999999' of ACME"),
        (SIM.ship_notice_cxml(loop.po_number, "S-1", date(2026, 3, 20), {1: 500}), "400", "line 1: 500 shipped"),
    ]  # fmt: skip
    for body, code, text in cases:
        http, cxml_code, message = _cxml(client, body)
        assert (http, cxml_code) == (int(code), code) and text in message, (body[:60], message)
        assert "root:" not in message
    kept = _documents(loop)
    assert len(kept) == len(cases) and {outcome for _, outcome, _ in kept} == {"refused"}
    with loop.world.session() as s:
        audited = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "inbound_document")).all()
    assert audited == ["inbound.refused"] * len(cases)
    with loop.world.session() as s:
        po = get_po(s, loop.po_number)
        assert po.status == "sent" and s.scalar(select(func.count()).select_from(Invoice)) == 0


def test_a_cxml_confirmation_above_the_limit_needs_an_approver(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    body = SIM.confirmation_cxml(loop.po_number, {1: (36, "detail", None, "12.00"), 2: (20, "accept", None, None)})
    assert _cxml(client, body)[:2] == (200, "200")
    login(client, "bob", "bob-password")
    page = f"/procurement/po/{loop.po_number}"
    ack = re.search(r'id="ack-(\d+)"', client.get(page).get_data(as_text=True))
    assert ack is not None
    token = csrf_from(client.get(page).get_data(as_text=True))
    client.post(f"/procurement/acknowledgements/{ack.group(1)}/decide",
                data={"csrf_token": token, "decision": "accept"})  # fmt: skip
    html = client.get(page).get_data(as_text=True)
    assert "changes accepted, waiting for approval" in html
    refused = client.post(f"/procurement/acknowledgements/{ack.group(1)}/approve",
                          data={"csrf_token": token, "decision": "accept"})  # fmt: skip
    assert refused.status_code == 403  # a buyer without the approver role
    ann = app.test_client()
    login(ann, "ann", "nna-password")
    token = csrf_from(ann.get(page).get_data(as_text=True))
    done = ann.post(f"/procurement/acknowledgements/{ack.group(1)}/approve",
                    data={"csrf_token": token, "decision": "accept", "comment": "market price"})  # fmt: skip
    assert done.status_code == 302
    with loop.world.session() as s:
        po = get_po(s, loop.po_number)
        price = s.scalar(select(PurchaseOrderLine.unit_price).where(PurchaseOrderLine.po_id == po.id,
                                                                    PurchaseOrderLine.line_number == 1))  # fmt: skip
        assert price == Decimal("12.00") and po.approved_total == Decimal("552.96")  # (36 × 12 + 20 × 4) × 1.08


def test_a_cxml_ship_notice_shows_what_to_expect(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    body = SIM.ship_notice_cxml(loop.po_number, "ASN-1", date(2026, 3, 19), {1: 30})
    assert _cxml(client, body)[:2] == (200, "200")
    assert _cxml(client, body)[2].endswith("was already announced (shipment_id)")
    login(client, "bob", "bob-password")
    html = client.get(f"/procurement/po/{loop.po_number}").get_data(as_text=True)
    assert re.findall(r'class="num expected-qty">(\d+)<', html) == ["30"] and "UPS 1Z999AA10123456784" in html
    whole = SIM.ship_notice_cxml(loop.po_number, "ASN-2", date(2026, 3, 21), {})  # no items: the rest of the order
    assert _cxml(client, whole)[:2] == (200, "200")
    html = client.get(f"/procurement/po/{loop.po_number}").get_data(as_text=True)
    assert re.findall(r'class="num expected-qty">(\d+)<', html) == ["36", "20"]


def test_forged_expired_and_reused_links_are_refused(app: Flask, client: FlaskClient) -> None:
    loop, link = _sent(app)
    assert client.get(link).status_code == 200
    assert client.get(link[:-3] + "abc").status_code == 404
    old = supplier_links.sign(loop.secret_key, loop.po_number, "n" * 32, datetime.now(UTC) - timedelta(days=31))
    expired = client.get(f"/supplier/respond/{old}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    other = supplier_links.sign("another-key", loop.po_number, "n" * 32, datetime.now(UTC))
    assert client.get(f"/supplier/respond/{other}").status_code == 404
    token = csrf_from(client.get(link).get_data(as_text=True))
    assert client.post(link + "/acknowledge", data={"csrf_token": token}).status_code == 302
    second = client.post(link + "/acknowledge", data={"csrf_token": token})
    assert second.status_code == 409 and "already used" in second.get_data(as_text=True)


def test_hostile_link_input_is_refused_naming_the_field_and_keeps_the_link(app: Flask, client: FlaskClient) -> None:
    _loop, link = _sent(app)
    token = csrf_from(client.get(link).get_data(as_text=True))
    hostile = [
        ({"action_1": "change", "quantity_1": "NaN"}, "line 1 quantity"),
        ({"action_1": "change", "price_1": "1e400"}, "line 1 price"),
        ({"action_1": "change", "price_1": "-3"}, "line 1 price"),
        ({"action_1": "change", "date_1": "2026-13-45"}, "line 1 date"),
        ({"action_1": "change"}, "enter the new quantity, price or date"),
        ({"action_1": "maybe"}, "is not one of accept, reject, change"),
        ({"comment": "x" * 100_000}, "comment: at most 2000"),
        ({"comment": "a\x00b"}, "contains a NUL character"),
    ]
    for form, text in hostile:
        response = client.post(link + "/acknowledge", data={"csrf_token": token, **form})
        assert response.status_code == 422 and text in response.get_data(as_text=True), form
    ship = client.post(link + "/ship", data={"csrf_token": token, "shipment_id": "S", "ship_date": "soon"})
    assert ship.status_code == 422 and "ship_date" in ship.get_data(as_text=True)
    assert client.post(link + "/acknowledge", data={"csrf_token": token}).status_code == 302  # still usable


def test_invoice_csv_books_good_invoices_and_names_the_rows_of_bad_ones(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    login(client, "bob", "bob-password")
    n = loop.po_number
    text = ("supplier_code,po_number,invoice_number,invoice_date,currency,line,quantity,unit_price,tax\n"
            f"ACME,{n},C-1,2026-03-25,USD,1,36,9.20,0\nACME,{n},C-2,2026-03-25,USD,7,1,1.00,0\n"
            f"ACME,{n},C-3,2026-03-25,USD,2,1,abc,0\n")  # fmt: skip
    token = csrf_from(client.get("/procurement/invoices").get_data(as_text=True))
    html = client.post("/procurement/invoices/upload", data={"csrf_token": token, "csv": text}).get_data(as_text=True)
    assert "booked ACME/C-1 held" in html  # nothing received yet: quantity mismatch
    assert "booked ACME/C-2 held" in html and "line 7: not on the order" in html  # held for a person, not lost
    assert "row 4 (ACME/C-3): row 4 unit_price" in html
    assert "36 invoiced but 0 received" in html
    with loop.world.session() as s:
        assert {i.invoice_number: i.status for i in s.scalars(select(Invoice))} == {"C-1": "held", "C-2": "held"}
    client.set_cookie("vendtrack_lang", "de")  # the stored hold reasons read in the reader's language
    german = client.get("/procurement/invoices").get_data(as_text=True)
    assert "Position 7: nicht in der Bestellung" in german and "Position 1: 36 berechnet, aber 0 erhalten" in german
    assert "not on the order" not in german


def test_a_held_invoice_matches_once_the_goods_are_received(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    assert "recorded: held" in _cxml(client, SIM.invoice_cxml(loop.po_number, "I-9", {2: (20, "4.00")}))[2]
    login(client, "bob", "bob-password")
    page = f"/procurement/po/{loop.po_number}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    assert client.post(page + "/receive", data={"csrf_token": token, "line_2": "20"}).status_code == 302
    with loop.world.session() as s:
        invoice_id = s.scalar(select(Invoice.id))
    assert client.post(f"/procurement/invoices/{invoice_id}/rematch", data={"csrf_token": token}).status_code == 302
    with loop.world.session() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None and invoice.status == "matched" and invoice.hold_reason == ""
        assert s.scalar(select(PurchaseOrder.status)) == "partly_received"


def test_published_cxml_examples_parse_with_our_inbound_readers() -> None:
    """Documents written by others (not by our simulator) go through the same readers."""
    notice = cxml_inbound.ship_notice(cxml_dtd.parse(cxml_dtd.sample("ShipNoticeRequest.xml")).find(
        "Request/ShipNoticeRequest"))  # fmt: skip
    # its portion has no items: the whole order ships (asn.record fills in every open line)
    assert (notice.po_number, notice.shipment_id, notice.lines, notice.carrier) == ("DO1234", "S2-123", (), "FDE")
    raw = cxml_dtd.sample("InvoiceDetailRequest.xml")
    with pytest.raises(DomainError, match=r"names no orderID \(only DocumentReference payloadID '123'\)"):
        cxml_inbound.invoice(cxml_dtd.parse(raw).find("Request/InvoiceDetailRequest"), "ACME")
    named = raw.replace(b"<OrderReference>", b'<OrderReference orderID="PO-000042">')
    bill = cxml_inbound.invoice(cxml_dtd.parse(named).find("Request/InvoiceDetailRequest"), "ACME")
    assert (bill.po_number, bill.invoice_number, bill.currency) == ("PO-000042", "3492", "USD")
    assert bill.lines == ((1, 1, Decimal("365")),)


def test_the_simulators_documents_and_our_responses_are_valid_per_their_dtds() -> None:
    docs = [SIM.confirmation_cxml("PO-1", {1: (3, "detail", date(2026, 4, 1), "2.00"), 2: (1, "reject", None, None)}),
            SIM.ship_notice_cxml("PO-1", "S-1", date(2026, 4, 1), {1: 3}),
            SIM.invoice_cxml("PO-1", "I-1", {1: (3, "2.00")}),
            cxml_inbound.response(400, "not well-formed XML", SystemClock())]  # fmt: skip
    for doc in docs:
        assert cxml_dtd.validate(doc) == [], doc[:200]


def test_a_line_the_supplier_cannot_supply_is_closed_once_the_buyer_accepts(app: Flask, client: FlaskClient) -> None:
    loop, link = _sent(app)
    token = csrf_from(client.get(link).get_data(as_text=True))
    assert client.post(link + "/acknowledge", data={"csrf_token": token, "action_2": "reject"}).status_code == 302
    login(client, "bob", "bob-password")
    page = f"/procurement/po/{loop.po_number}"
    ack = re.search(r'id="ack-(\d+)"', client.get(page).get_data(as_text=True))
    assert ack is not None
    token = csrf_from(client.get(page).get_data(as_text=True))
    declined = client.post(f"/procurement/acknowledgements/{ack.group(1)}/decide",
                           data={"csrf_token": token, "decision": "decline"})  # fmt: skip
    assert declined.status_code == 422 and "say why the changes are declined" in declined.get_data(as_text=True)
    accept = {"csrf_token": token, "decision": "accept"}
    assert client.post(f"/procurement/acknowledgements/{ack.group(1)}/decide", data=accept).status_code == 302
    assert client.post(page + "/receive", data={"csrf_token": token, "line_1": "36"}).status_code == 302
    with loop.world.session() as s:
        po = get_po(s, loop.po_number)
        closed = s.scalar(select(PurchaseOrderLine.closed_qty).where(PurchaseOrderLine.po_id == po.id,
                                                                     PurchaseOrderLine.line_number == 2))  # fmt: skip
        assert (po.status, closed) == ("received", 20)


def test_a_supplier_rejecting_the_whole_order_is_shown_to_the_buyer(app: Flask, client: FlaskClient) -> None:
    loop, _link = _sent(app)
    body = SIM.confirmation_cxml(loop.po_number, {}, kind="reject")
    assert "rejected by supplier" in _cxml(client, body)[2]
    login(client, "bob", "bob-password")
    assert "rejected by the supplier" in client.get(f"/procurement/po/{loop.po_number}").get_data(as_text=True)


def test_a_german_supplier_reads_the_link_page_refusals_and_thanks_in_german(app: Flask, client: FlaskClient) -> None:
    loop, link = _sent(app)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    old = supplier_links.sign(loop.secret_key, loop.po_number, "n" * 32, datetime.now(UTC) - timedelta(days=31))
    expired = client.get(f"/supplier/respond/{old}", headers=german)
    assert expired.status_code == 410  # told apart by the error's code, not by its (translated) words
    assert "dieser Link ist am " in expired.get_data(as_text=True)
    assert "bitten Sie den Einkäufer, die Bestellung erneut zu senden" in expired.get_data(as_text=True)
    token = csrf_from(client.get(link, headers=german).get_data(as_text=True))
    refused = client.post(link + "/acknowledge", data={"csrf_token": token, "action_1": "change"}, headers=german)
    assert refused.status_code == 422 and (
        "Position 1: geben Sie die neue Menge, den Preis oder das Datum ein oder wählen Sie Annehmen"
        in refused.get_data(as_text=True)
    )
    done = client.post(link + "/acknowledge", data={"csrf_token": token}, headers=german, follow_redirects=True)
    assert f"Vielen Dank: Ihre Antwort zu {loop.po_number} ist erfasst (wie bestellt bestätigt)." in done.get_data(
        as_text=True
    )
    again = client.post(link + "/acknowledge", data={"csrf_token": token}, headers=german)
    assert again.status_code == 409 and "dieser Link wurde bereits am " in again.get_data(as_text=True)
