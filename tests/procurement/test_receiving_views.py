"""procurement.receiving_views: the receiving page, and a PO's label (link or number) opening its receiving."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from procurement import orders
from tests.conftest import login
from tests.procurement.test_views import _setup


def _resolve(client: FlaskClient, code: str) -> tuple[int, dict[str, object]]:
    answer = client.get("/procurement/scan", query_string={"code": code})
    return answer.status_code, answer.get_json()


def test_a_sent_order_opens_at_its_receiving_by_number_or_link(app: Flask, client: FlaskClient) -> None:
    world, number = _setup(app)
    login(client, "bob", "bob-password")
    status, body = _resolve(client, number)
    assert (status, body) == (200, {"url": f"/procurement/po/{number}", "po_number": number})  # pending: no receiving
    assert number not in client.get("/procurement/receiving").get_data(as_text=True)
    with unit_of_work(world.factory) as s:
        orders.get_po(s, number).status = "sent"  # the approval flow is tested elsewhere
    receiving = f"/procurement/po/{number}#receive-form"
    for code in (number, number.lower(), f"http://localhost/procurement/po/{number}"):
        assert _resolve(client, code) == (200, {"url": receiving, "po_number": number}), code
    page = client.get("/procurement/receiving").get_data(as_text=True)
    assert f'href="{receiving}"' in page and 'data-scan="/procurement/scan"' in page
    po_page = client.get(f"/procurement/po/{number}").get_data(as_text=True)
    assert 'data-scan-fallback="#receive-scan" data-scan-fallback-on="no_such_po"' in po_page
    assert f'href="/labels/po/{number}.pdf"' in po_page


def test_refusals_and_the_supplier_label_hand_over_code(app: Flask, client: FlaskClient) -> None:
    _setup(app)
    login(client, "bob", "bob-password")
    status, body = _resolve(client, "(01)09521234543213(10)L1")  # a supplier's GS1 label: no PO
    assert status == 404 and isinstance(body["error"], dict) and body["error"]["code"] == "no_such_po"
    status, body = _resolve(client, "https://other.example/procurement/po/PO-1")
    assert status == 422 and "another server (other.example)" in str(body["error"])
    status, body = _resolve(client, "http://localhost/tracking/tag/A-1")
    assert status == 422 and body["error"]["code"] == "not_a_po"  # type: ignore[index]


def test_approvers_may_not_receive(app: Flask, client: FlaskClient) -> None:
    _setup(app)
    login(client, "ann", "nna-password")
    assert client.get("/procurement/scan", query_string={"code": "x"}).status_code == 403
    assert client.get("/procurement/receiving").status_code == 403
