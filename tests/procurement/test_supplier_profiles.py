"""Supplier document profiles, UNSPSC (by hand and from catalogues), site document settings and requested
delivery dates, through the pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from core.audit import AuditEntry
from procurement.catalog import import_catalog
from procurement.models import SupplierItem, SupplierProfile
from tests.conftest import csrf_from, login
from tests.procurement.conftest import World
from tests.procurement.supplier_world import SECRET, make_loop


def test_catalogue_import_sets_unspsc_and_names_a_bad_one(world: World) -> None:
    text = ("supplier_code,sku,supplier_part_number,price_breaks,unspsc\n"
            "ACME,GLOVE,AC-GL,1:10.00,46181504\nACME,WIPE,AC-WP,1:4.00,4618\nOMEGA,DRILL,OM-DR,1:3.00,\n")  # fmt: skip
    with world.session() as s:
        s.execute(SupplierItem.__table__.update().where(SupplierItem.supplier_part_number == "OM-DR")
                  .values(unspsc="27112700"))  # fmt: skip
        result = import_catalog(s, text, "user:bob")
        codes = {p: u for p, u in s.execute(select(SupplierItem.supplier_part_number, SupplierItem.unspsc))}
    assert [(e.row, e.field) for e in result.errors] == [(3, "unspsc")]
    assert codes["AC-GL"] == "46181504" and codes["OM-DR"] == "27112700"  # an empty cell keeps the code


def test_profile_page_seals_the_secret_and_never_shows_or_audits_it(app: Flask, client: FlaskClient) -> None:
    loop = make_loop(app)
    login(client, "bob", "bob-password")
    page = "/procurement/suppliers/ACME/documents"
    html = client.get(page).get_data(as_text=True)
    assert "set: leave empty to keep it" in html and SECRET not in html
    form = {"csrf_token": csrf_from(html), "from_domain": "DUNS", "from_identity": "123456789",
            "to_domain": "NetworkID", "to_identity": "AN01-ACME", "sender_domain": "DUNS",
            "sender_identity": "123456789", "shared_secret": "",
            "csv_columns": "sku=Item", "csv_delimiter": ";", "csv_bom": "yes"}  # fmt: skip
    assert client.post(page, data=form).status_code == 302
    bad = client.post(page, data={**form, "csv_columns": "sku=Item,colour=X"})
    assert bad.status_code == 422 and "CSV column &#39;colour&#39; is unknown" in bad.get_data(as_text=True)
    with loop.world.session() as s:
        profile = s.get(SupplierProfile, s.scalar(select(SupplierProfile.supplier_id)))
        assert profile is not None and profile.shared_secret_enc and SECRET not in profile.shared_secret_enc
        logged = " ".join(e.before_json + e.after_json for e in s.scalars(select(AuditEntry)))
    assert SECRET not in logged and '"shared_secret": "kept"' in logged
    assert client.get(f"/procurement/po/{loop.po_number}/csv").get_data() == (
        "\ufeffItem\r\nGLOVE\r\nDRILL\r\n".encode())  # fmt: skip
    bad_code = {"csrf_token": form["csrf_token"], "part": "AC-GL", "unspsc": "4618150X"}
    unspsc = client.post("/procurement/suppliers/ACME/unspsc", data=bad_code)
    assert unspsc.status_code == 422 and "must be 8 digits" in unspsc.get_data(as_text=True)


def test_requested_dates_and_buyer_contact_reach_the_pdf(app: Flask, client: FlaskClient) -> None:
    loop = make_loop(app)
    login(client, "bob", "bob-password")
    with loop.world.session() as s:  # back to a state where dates may change
        from procurement.models import PurchaseOrder

        s.execute(PurchaseOrder.__table__.update().values(status="pending_approval"))
        s.commit()
    page = f"/procurement/po/{loop.po_number}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    bad = client.post(page + "/delivery-dates", data={"csrf_token": token, "requested_delivery_date": "31.03.2026"})
    assert bad.status_code == 422 and "requested_delivery_date" in bad.get_data(as_text=True)
    ok = client.post(page + "/delivery-dates", data={"csrf_token": token, "requested_delivery_date": "2026-03-31",
                                                     "date_2": "2026-04-15"})  # fmt: skip
    assert ok.status_code == 302
    text = PdfReader(io.BytesIO(client.get(page + "/pdf").get_data())).pages[0].extract_text()
    assert "Requested delivery 2026-03-31" in text and "Deliver by 2026-04-15" in text
    assert "bob.buyer@plant.example" in text and "+1 555 0100" in text
