"""Validating cXML against the DTD of the version a document declares (lxml, no network, no entity expansion).

The cXML DTDs and the independent sample documents are not committed here: they come from the cXML
distribution (free to redistribute per its licence), and this repository takes no third-party files. The tests
look for them in VENDTRACK_TEST_CXML_DIR, else in `shared/cxml/` beside the repository (as CI lays it out):

    <dir>/1.2.063/cXML.dtd   <dir>/1.2.063/Fulfill.dtd   <dir>/1.2.050/cXML.dtd   <dir>/1.2.050/Fulfill.dtd
    <dir>/1.2.020/InvoiceDetail.dtd   <dir>/1.2.037/InvoiceDetail.dtd
    <dir>/samples/OrderRequest.xml  ShipNoticeRequest.xml  InvoiceDetailRequest.xml  (published examples)

Without them the DTD tests are skipped, saying so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree

DOCTYPE = re.compile(rb'<!DOCTYPE cXML SYSTEM "https?://xml\.cxml\.org/schemas/cXML/([\d.]+)/(\w+\.dtd)"', re.I)


def cxml_dir() -> Path:
    configured = os.environ.get("VENDTRACK_TEST_CXML_DIR", "")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "cxml"
    if not (folder / "1.2.063" / "cXML.dtd").exists():
        pytest.skip(f"cXML DTDs not found in {folder}: set VENDTRACK_TEST_CXML_DIR (see tests/procurement/cxml_dtd.py)")
    return folder


def parse(raw: bytes) -> etree._Element:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    return etree.fromstring(raw, parser)


def declared(raw: bytes) -> tuple[str, str]:
    match = DOCTYPE.search(raw[:400])
    assert match, "the document declares no cXML DTD"
    return match.group(1).decode(), match.group(2).decode()


def validate(raw: bytes) -> list[str]:
    """The DTD errors of `raw` against the DTD it declares ([] when valid)."""
    version, name = declared(raw)
    path = cxml_dir() / version / name
    assert path.exists(), f"no DTD {name} of cXML {version} in {cxml_dir()}"
    dtd = etree.DTD(str(path))
    return [] if dtd.validate(parse(raw)) else [str(e) for e in dtd.error_log]


def sample(name: str) -> bytes:
    return (cxml_dir() / "samples" / name).read_bytes()


def paths(root: etree._Element) -> set[str]:
    """Every element path (tag/tag/...) under `root`."""
    tree = root.getroottree()
    return {re.sub(r"\[\d+\]", "", tree.getpath(node)) for node in root.iter() if isinstance(node.tag, str)}
