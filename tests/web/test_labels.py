"""web.labels: asset and PO labels as PDF, each page's QR code decoded back with zbarimg (pdftoppm → PNG)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.procurement.test_views import _setup
from tests.tracking.conftest import seed_floor
from web.labels import Label, render


def decode_pages(pdf: bytes, folder: Path) -> list[str]:
    """The QR code text of each page of `pdf`, in page order (zbarimg on 150 dpi renderings)."""
    (folder / "labels.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(folder / "labels.pdf"), str(folder / "page")], check=True)
    found = []
    for png in sorted(folder.glob("page-*.png")):
        out = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        found.append(out.stdout.strip())
    return found


def text_of(pdf: bytes, folder: Path) -> str:
    (folder / "text.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(folder / "text.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_asset_labels_decode_to_the_tag_link(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF])
    login(client, "nina", "walnut-lantern-7")
    ids = [floor.asset_ids[tag] for tag in ("A-3", "A-1")]
    answer = client.get("/labels/assets.pdf", query_string={"asset": ids})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert decode_pages(answer.data, tmp_path) == [
        "http://localhost/tracking/tag/A-3",
        "http://localhost/tracking/tag/A-1",
    ]
    text = text_of(answer.data, tmp_path)
    assert "A-3" in text and "Wheelchair 1" in text and "Infusion pump 1" in text
    # what the QR code holds opens the asset
    assert client.get("/tracking/tag/A-3").headers["Location"] == f"/tracking/assets/{floor.asset_ids['A-3']}"
    page = client.get(f"/tracking/assets/{ids[0]}").get_data(as_text=True)
    assert f'href="/labels/assets.pdf?asset={ids[0]}"' in page
    bad = client.get("/labels/assets.pdf", query_string={"asset": "x"})
    assert bad.status_code == 422 and "asset" in bad.get_data(as_text=True)
    assert client.get("/labels/assets.pdf", query_string={"asset": 999999}).status_code == 404
    assert client.get("/labels/assets.pdf").status_code == 422


def test_po_label_decodes_to_the_po_page(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    _world, number = _setup(app)
    login(client, "ann", "nna-password")  # an approver may print it too
    answer = client.get(f"/labels/po/{number}.pdf")
    assert answer.status_code == 200
    assert decode_pages(answer.data, tmp_path) == [f"http://localhost/procurement/po/{number}"]
    text = text_of(answer.data, tmp_path)
    assert number in text and "Acme" in text
    assert client.get("/labels/po/NOPE.pdf").status_code == 404
    assert client.get("/labels/assets.pdf", query_string={"asset": 1}).status_code == 403


def test_long_codes_and_names_still_decode(tmp_path: Path) -> None:
    long_name = "Ventilator, transport, with humidifier and battery pack (ICU spare) — Ψ Ж 病床"
    labels = [Label("EQUIP-2026-000000000123", long_name, "Ventilator", "https://vt.example:8443/tracking/tag/X")]
    pdf = render(labels)
    assert decode_pages(pdf, tmp_path) == ["https://vt.example:8443/tracking/tag/X"]
    assert "EQUIP-2026-000000000123" in text_of(pdf, tmp_path)
