"""End to end, over real wires: the PO e-mail through aiosmtpd, a supplier simulator following the signed link
over HTTP and posting cXML to a live server; the buyer acts through the pages. The order's whole life:
sent → confirmed with a changed date → accepted → shipped → received → invoiced → matched, plus a held mismatch."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.audit import history
from core.clock import SystemClock
from procurement import transmit
from procurement.models import InboundDocument, PurchaseOrderLine
from procurement.orders import get_po
from procurement.smtp_capture import SmtpCapture
from tests.conftest import LiveServer, csrf_from, login
from tests.procurement.supplier_sim import SupplierSimulator
from tests.procurement.supplier_world import BUYER_ID, SECRET, SUPPLIER_ID, WANTED, Loop, make_loop


def _post(client: FlaskClient, page: str, url: str, data: dict[str, str]) -> Any:
    return client.post(url, data={"csrf_token": csrf_from(client.get(page).get_data(as_text=True)), **data})


def send_po(loop: Loop, public_url: str) -> Any:
    with SmtpCapture() as mail:
        smtp = transmit.SmtpConfig(mail.host, mail.port, "robot@plant.example", link_secret=loop.secret_key,
                                   public_url=public_url)  # fmt: skip
        result = transmit.send(loop.world.factory, loop.po_number, smtp, "user:bob", SystemClock())
        assert result.status == transmit.SENT, result.error
        (msg,) = mail.messages
    return msg


@pytest.mark.sqlite_only
def test_a_whole_order_life_with_a_supplier_simulator(app: Flask, client: FlaskClient, live_server: LiveServer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    loop = make_loop(app)
    number, page = loop.po_number, f"/procurement/po/{loop.po_number}"
    sim = SupplierSimulator(SUPPLIER_ID[0], SUPPLIER_ID[1], SECRET, BUYER_ID)
    order = sim.read_order(send_po(loop, live_server.url))
    assert order.po_number == number and "bob.buyer@plant.example" in order.reply_to
    assert order.pdf.startswith(b"%PDF")

    later = WANTED + timedelta(days=7)
    answer = sim.confirm(order.link, {1: {"action": "accept"}, 2: {"action": "change", "date": later.isoformat()}},
                         comment="drills from the second batch")  # fmt: skip
    assert answer.status == 200 and "changes proposed: waiting for the buyer" in answer.body
    token = re.search(r'name="csrf_token" value="([^"]+)"', sim.open_link(order.link).body)
    assert token is not None
    again = sim._request(order.link + "/acknowledge", {"csrf_token": token.group(1), "action_1": "accept"})
    assert again.status == 409 and "already used" in again.body

    login(client, "bob", "bob-password")
    html = client.get(page).get_data(as_text=True)
    ack_id = re.search(r'id="ack-(\d+)"', html)
    assert ack_id and "drills from the second batch" in html
    assert _post(client, page, f"/procurement/acknowledgements/{ack_id.group(1)}/decide",
                 {"decision": "accept"}).status_code == 302  # fmt: skip
    with loop.world.session() as s:
        promised = s.scalar(select(PurchaseOrderLine.promised_date).where(PurchaseOrderLine.line_number == 2))
    assert promised == later

    shipped = sim.ship(order.link, "DN-7781", date(2026, 3, 20), later, {1: 36, 2: 20})
    assert shipped.status == 200 and "DN-7781" in shipped.body
    html = client.get(page).get_data(as_text=True)
    expected = re.findall(r'class="num expected-qty">(\d+)<', html)
    assert expected == ["36", "20"], "the receiving section shows what is on its way"

    assert _post(client, page, page + "/receive", {"line_1": "36", "line_2": "20"}).status_code == 302
    assert 'data-status="received"' in client.get(page).get_data(as_text=True)

    inbound = live_server.url + "/supplier/cxml"
    good = sim.post_cxml(inbound, sim.invoice_cxml(number, "INV-1001", {1: (36, "9.20")}, tax="26.50"))
    assert good.status == 200 and "invoice INV-1001 recorded: matched" in good.body
    dear = sim.post_cxml(inbound, sim.invoice_cxml(number, "INV-1002", {2: (20, "4.60")}))
    assert dear.status == 200 and "recorded: held" in dear.body

    invoices_page = client.get("/procurement/invoices").get_data(as_text=True)
    assert "line 2: price 4.60 is 15.0 % over the order&#39;s 4.00 (tolerance 2.0 %)" in invoices_page
    held_id = re.search(r'<tr data-status="held" id="invoice-(\d+)"', invoices_page)
    assert held_id is not None
    approver = app.test_client()
    login(approver, "ann", "nna-password")
    assert _post(approver, "/procurement/invoices", f"/procurement/invoices/{held_id.group(1)}/decide",
                 {"decision": "approve", "comment": "steel surcharge agreed by phone"}).status_code == 302  # fmt: skip
    export = _post(client, "/procurement/invoices", "/procurement/invoices/export", {})
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [(r["invoice_number"], r["status"]) for r in rows] == [("INV-1001", "matched"), ("INV-1002", "approved")]

    with loop.world.session() as s:
        po = get_po(s, number)
        documents = s.scalars(select(InboundDocument).where(InboundDocument.po_id == po.id)).all()
        life = [f"{h.at:%H:%M:%S} {h.actor:<28} {h.action:<36} {h.comment}".rstrip()
                for h in history(s, "purchase_order", number)]  # fmt: skip
        life += [f"{h.at:%H:%M:%S} {h.actor:<28} {h.action:<36} {h.after}" for n in ("INV-1001", "INV-1002")
                 for h in history(s, "invoice", f"ACME/{n}")]  # fmt: skip
    assert [(d.channel, d.kind, d.outcome) for d in documents] == [
        ("link", "confirmation", "accepted"), ("link", "ship_notice", "accepted"), ("cxml", "invoice", "accepted"),
        ("cxml", "invoice", "accepted")]  # fmt: skip
    with capsys.disabled():
        print("\n" + "\n".join(life))
