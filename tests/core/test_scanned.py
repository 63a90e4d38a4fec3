"""core.scanned: a scanned text is a link to this server (its path), a bare code, or refused (another server)."""

from __future__ import annotations

import pytest

from core import scanned
from core.errors import DomainError


def test_bare_codes_stay_codes() -> None:
    assert scanned.read("  A-17 ", "vt.example:8443") == scanned.Scanned(code="A-17")
    assert scanned.read("(01)09521234543213(10)L1", "vt.example").code == "(01)09521234543213(10)L1"
    assert scanned.read("ftp://vt.example/x", "vt.example").code == "ftp://vt.example/x"  # not a web link


def test_a_link_to_this_server_gives_its_path() -> None:
    found = scanned.read("https://VT.example:8443/tracking/tag/A%2D17", "vt.example:8443")
    assert found == scanned.Scanned(path="/tracking/tag/A-17")
    assert found.segment_after("/tracking/tag/") == "A-17"
    assert found.segment_after("/procurement/po/") == ""
    # a label printed while the server was on plain http still opens it on https (default ports)
    assert scanned.read("http://vt.example/procurement/po/PO-1", "vt.example", "https").path == "/procurement/po/PO-1"
    assert scanned.read("https://vt.example/app/tracking/tag/B", "vt.example", script_root="/app").path == (
        "/tracking/tag/B"
    )


@pytest.mark.parametrize(
    ("text", "host", "named"),
    [
        ("https://evil.example/tracking/tag/A-1", "vt.example", "evil.example"),
        ("https://vt.example:9000/tracking/tag/A-1", "vt.example", "vt.example"),  # another port, another server
        ("http://vt.example.evil.example/", "vt.example", "vt.example.evil.example"),
        ("https://vt.example:notaport/", "vt.example", "vt.example"),
    ],
)
def test_a_link_to_another_server_is_refused_naming_it(text: str, host: str, named: str) -> None:
    with pytest.raises(DomainError, match="another server") as refused:
        scanned.read(text, host)
    assert f"({named})" in refused.value.message and refused.value.field == "code"


def test_empty_and_overlong_scans_say_what_to_do() -> None:
    with pytest.raises(DomainError, match="scan a label, or type its code"):
        scanned.read("   ", "vt.example")
    with pytest.raises(DomainError, match="at most 500"):
        scanned.read("x" * 501, "vt.example")
