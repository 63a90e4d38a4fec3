"""The PO PDF read back by real tools: pdftotext (every script, no tofu), pypdf (fonts embedded, dates), zbarimg
(the barcode decodes at 150 dpi), pdftoppm for the pictures a person looks at."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from procurement import pdf
from tests.procurement.test_documents import context

SCRIPTS = ("Ωμέγα Οδός", "Москва Склад", "深圳工具 東京", "Crème brûlée São Paulo Łódź Ærøskøbing")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install {'zbar-tools' if name == 'zbarimg' else 'poppler-utils'}")
    return path


def _unicode_pdf() -> bytes:
    ctx = context(lines=3, supplier="Acme Ωμέγα 深圳工具 😀 🫠 null\x00byte", description=" / ".join(SCRIPTS))
    buyer = dataclasses.replace(ctx.buyer, email="ann.buyer@plant.example", phone="+49 40 1234")
    lines = (ctx.lines[0], dataclasses.replace(ctx.lines[1], requested_date=date(2026, 4, 1)), ctx.lines[2])
    return pdf.render(dataclasses.replace(ctx, buyer=buyer, lines=lines, requested_delivery_date=date(2026, 3, 20),
                                          document_date=datetime(2026, 3, 2, 10, 5, tzinfo=UTC)))  # fmt: skip


def _pdftotext(content: bytes, tmp_path: Path) -> str:
    source = tmp_path / "po.pdf"
    source.write_bytes(content)
    return subprocess.run([_tool("pdftotext"), "-enc", "UTF-8", str(source), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode()  # fmt: skip


def test_every_script_prints_as_text_and_nothing_is_a_box(tmp_path: Path) -> None:
    text = _pdftotext(_unicode_pdf(), tmp_path)
    for words in SCRIPTS:
        for word in words.split():
            assert word in text, word
    # DejaVu Sans draws the basic emoticons, so 😀 is kept as a glyph (reportlab's ToUnicode map mangles
    # characters beyond U+FFFF on extraction, so it is checked on the way in, not read back)
    assert pdf.printable("😀") == "😀" and "[U+1F600]" not in text
    assert "[U+1FAE0]" in text, "an emoji no font has is spelled as its code point, not drawn as a box"
    assert "nullbyte" in text and "\x00" not in text and "\ufffd" not in text
    assert "Buyer contact: Riverside Purchasing · ann.buyer@plant.example · +49 40 1234" in text
    assert "Requested delivery 2026-03-20" in text and "Deliver by 2026-04-01" in text


def test_fonts_are_embedded_and_the_creation_date_is_the_documents_own() -> None:
    reader = PdfReader(io.BytesIO(_unicode_pdf()))
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            name = str(font["/BaseFont"])
            fonts[name] = descriptor is not None and any(k in descriptor.get_object() for k in
                                                         ("/FontFile", "/FontFile2", "/FontFile3"))  # fmt: skip
    assert any("WenQuanYi" in n for n in fonts) and not any("STSong" in n for n in fonts), fonts
    # reportlab's canvas starts every page in Helvetica (a resource no text of ours uses); all else is embedded
    unembedded = {n for n, embedded in fonts.items() if not embedded and n != "/Helvetica"}
    assert unembedded == set(), f"fonts not embedded: {unembedded}"
    assert reader.metadata is not None and reader.metadata.creation_date == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


def test_the_barcode_decodes_at_150_dpi(tmp_path: Path) -> None:
    source = tmp_path / "po.pdf"
    source.write_bytes(_unicode_pdf())
    subprocess.run([_tool("pdftoppm"), "-r", "150", "-gray", "-png", "-f", "1", "-l", "1", str(source),
                    str(tmp_path / "page")], check=True, timeout=60)  # fmt: skip
    (page,) = tmp_path.glob("page*.png")
    out = subprocess.run([_tool("zbarimg"), "--quiet", "--raw", str(page)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["PO-000042"]


def test_a_draft_carries_the_watermark_on_every_page(tmp_path: Path) -> None:
    draft = dataclasses.replace(context(lines=120), status="pending_approval", approved_by=None, approved_at=None)
    reader = PdfReader(io.BytesIO(pdf.render(draft)))
    assert len(reader.pages) > 1
    assert all("DRAFT – NOT AN ORDER" in p.extract_text() for p in reader.pages)
    approved = PdfReader(io.BytesIO(pdf.render(context(lines=2))))
    assert "DRAFT" not in approved.pages[0].extract_text()
