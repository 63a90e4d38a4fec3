"""Documents in the supplier's language (procurement.document_language): a Spanish supplier's PO PDF read back with
pdftotext (Spanish headings, numbers and dates) and its e-mail caught by a real SMTP server (aiosmtpd), sent by a
buyer whose own pages are German; a German supplier's PDF; every document message printable in the PDF's fonts;
a bad supplier language refused naming the supported ones."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from flask import Flask
from flask_babel import force_locale, gettext

from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import DomainError
from core.languages import CATALOGUES
from procurement import approval, orders, pdf, transmit, workflow
from procurement.document_language import Words, words_for
from procurement.documents import build_context
from procurement.smtp_capture import SmtpCapture
from procurement.suppliers import SupplierData, save_supplier, supplier_by_code
from tests.procurement.conftest import START, World, seed_world


def _pdftotext(content: bytes, tmp_path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    source = tmp_path / "po.pdf"
    source.write_bytes(content)
    out = subprocess.run([tool, "-enc", "UTF-8", str(source), "-"], capture_output=True, check=True, timeout=60)
    return out.stdout.decode().replace("\xa0", " ")


def _supplier_speaks(world: World, code: str, language: str) -> None:
    with unit_of_work(world.factory) as s:
        row = supplier_by_code(s, code)
        save_supplier(s, SupplierData(row.code, row.name, row.email, row.currency, row.payment_terms, row.address,
                                      language), "test")  # fmt: skip


def _approved(world: World, supplier: str) -> str:
    """1200 GLOVE at 9.20 = 11,040.00; tax 8 % = 883.20; total 11,923.20 USD, ordered on 2026-03-02."""
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, supplier), world.site_id, "user:bob", world.clock)
        po.requested_delivery_date = date(2026, 3, 20)
        orders.add_line(s, po, "GLOVE", 1200, Decimal("9.20"), "user:bob", world.clock)
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        approval.approve(s, po.po_number, approval.Approver("user:ann", "ann", frozenset({"approver"})), world.clock)
        return po.po_number


@pytest.fixture
def world(app: Flask) -> World:
    return seed_world(app.extensions["vendtrack"].session_factory, ManualClock(START))


def test_spanish_supplier_gets_a_spanish_pdf_and_e_mail(app: Flask, world: World, tmp_path: Path) -> None:
    _supplier_speaks(world, "ACME", "es")
    number = _approved(world, "ACME")
    with SmtpCapture() as server, app.test_request_context("/", headers={"Accept-Language": "de"}):
        with force_locale("de"):  # the buyer's own pages are German; the supplier still reads Spanish
            assert gettext("Purchase orders") != "Purchase orders"
            result = transmit.send(world.factory, number, transmit.SmtpConfig(server.host, server.port,
                                   "buy@plant.example"), "user:bob", world.clock)  # fmt: skip
        assert result.status == "sent", result
        mail = server.messages[0]
    assert str(mail["Subject"]) == f"Pedido de compra {number}"
    assert str(mail["Content-Language"]) == "es"
    plain = mail.get_body(("plain",)).get_content().replace("\xa0", " ").replace("\r\n", "\n")  # type: ignore[union-attr]
    assert plain.startswith(f"Estimados señores de Acme & Sons:\n\nadjuntamos nuestro pedido de compra {number}.")
    for line in ("Fecha del pedido: 02/03/2026", "Entrega solicitada: 20/03/2026", "Total del pedido: 11.923,20 US$",
                 "Le rogamos que confirme la recepción", "Preguntas: responda a este correo."):  # fmt: skip
        assert line in plain, line
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="es">' in html and f"<strong>{number}</strong>" in html
    attachment = next(iter(mail.iter_attachments())).get_content()
    text = _pdftotext(attachment, tmp_path)
    for heading in ("PEDIDO DE COMPRA", "Fecha del pedido 02/03/2026", "Moneda USD", "Entrega solicitada 20/03/2026",
                    "Comprador", "Proveedor", "Entregar a", "Precio unitario", "Importe", "Subtotal",
                    "Impuesto (8 %)", "Condiciones:", "Página 1 de 1", "Aprobado por ann el 02/03/2026"):  # fmt: skip
        assert heading in text, heading
    for amount in ("9,20", "11.040,00", "11.040,00 US$", "883,20 US$", "11.923,20 US$"):
        assert amount in text, amount
    for english in ("PURCHASE ORDER", "Unit price", "Order date", "Subtotal USD", "11,040.00"):
        assert english not in text, english


def test_german_supplier_and_english_by_default(world: World, tmp_path: Path) -> None:
    _supplier_speaks(world, "OMEGA", "de")
    german, english = _approved(world, "OMEGA"), _approved(world, "ACME")
    with world.session() as s:
        de_text = _pdftotext(pdf.render(build_context(s, german)), tmp_path)
        en_text = _pdftotext(pdf.render(build_context(s, english)), tmp_path)
    for word in ("BESTELLUNG", "Bestelldatum 02.03.2026", "Stückpreis", "MwSt. (8 %)", "11.923,20 $", "Seite 1 von 1"):
        assert word in de_text, word
    for word in ("PURCHASE ORDER", "Order date 2026-03-02", "Unit price", "Tax (8 %)", "USD 11,923.20", "Page 1 of 1"):
        assert word in en_text, word


def test_every_document_message_prints_in_the_pdf_fonts() -> None:
    """Every German and Spanish message (the PDF's among them) uses only characters the embedded font draws."""
    covered = pdf.fonts().covered_chars
    if not covered:
        pytest.skip("DejaVu Sans is not installed: the fallback font is not embedded anyway")
    for code in ("de", "es"):
        with (CATALOGUES / code / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            catalog = read_mo(f)
        for message in catalog:
            text = message.string if isinstance(message.string, str) else "".join(message.string)
            missing = set(text) - set(covered)
            assert not missing, f"{code}: {text!r} has characters the PDF font lacks: {missing}"
    assert Words("es").money(Decimal("1234.5"), "EUR").replace("\xa0", " ") == "1.234,50 €"
    assert words_for("fr").code == "en" and words_for("").code == "en"


def test_a_bad_supplier_language_is_refused(world: World) -> None:
    with unit_of_work(world.factory) as s, pytest.raises(DomainError) as refused:
        save_supplier(s, SupplierData("NEW", "New supplier", "po@new.example", language="português"), "test")
    said = str(refused.value.message)
    assert refused.value.field == "language" and refused.value.status == 422
    assert "'português' is not a supported language" in said and "de (Deutsch), en (English), es (Español)" in said
