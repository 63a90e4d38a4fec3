"""The audit log page and its CSV export (web/admin.py, core/audit.search): filters, pages, stored notes shown in
the reader's language, spreadsheet formulas defused, bad filters refused with the field named, admins only."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from flask.testing import FlaskClient

from core import audit, notes
from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from web.admin import AUDIT_PAGE

EMAILED = notes.Note("e-mailed to %(recipient)s", (("recipient", "orders@acme.example"),)).encode()


def _seed(app: Flask, extra: int = 0) -> None:
    """alice approves PO-1 and PO-2, bob submits PO-2 (with a typed formula as his comment), the system e-mails
    PO-2; then `extra` entries by carol (older ones first)."""
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        create_user(s, "root", "copper-kettle-41", [Role.ADMIN])
        create_user(s, "sam", "mas-password-9", [Role.STAFF])
        audit.record(s, "user:alice", "po.approve", "purchase_order", "PO-1", {"status": "pending"}, {"status": "ok"})
        audit.record(s, "user:bob", "po.submit", "purchase_order", "PO-2", comment='=HYPERLINK("http://x","y")')
        audit.record(s, "user:alice", "po.approve", "purchase_order", "PO-2")
        audit.record(s, "system:transmit", "po.send", "purchase_order", "PO-2", comment=EMAILED)
        for n in range(extra):
            audit.record(s, "user:carol", "item.save", "item", f"SKU-{n}", after={"n": n})


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr><td>.*?</tr>", page, flags=re.S)


def test_filters_match_part_of_a_field_in_any_case(app: Flask, client: FlaskClient) -> None:
    _seed(app)
    login(client, "root", "copper-kettle-41")
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "e-mailed to orders@acme.example" in everything and '{"m"' not in everything, "a stored note is shown"
    alice = _rows(client.get("/admin/audit?who=ALICE").get_data(as_text=True))
    assert len(alice) == 2 and all("user:alice" in row for row in alice)
    po2 = _rows(client.get("/admin/audit?record=po-2").get_data(as_text=True))
    assert len(po2) == 3 and all("PO-2" in row for row in po2)
    assert len(_rows(client.get("/admin/audit?who=alice&record=PO-2").get_data(as_text=True))) == 1
    assert len(_rows(client.get("/admin/audit?what=approve").get_data(as_text=True))) == 2
    nothing = client.get("/admin/audit?who=%25").get_data(as_text=True)  # "%" is a character, not a wildcard
    assert _rows(nothing) == [] and "No entries match these filters." in nothing


def test_pages_go_back_in_time_and_keep_the_filters(app: Flask, client: FlaskClient) -> None:
    _seed(app, extra=AUDIT_PAGE + 5)
    login(client, "root", "copper-kettle-41")
    first = client.get("/admin/audit?who=carol").get_data(as_text=True)
    assert len(_rows(first)) == AUDIT_PAGE and "SKU-104" in first and "SKU-4<" not in first
    older = re.search(r'href="(/admin/audit\?[^"]*older_than=\d+[^"]*)"', first)
    assert older, "a full page links to the older entries"
    link = older.group(1).replace("&amp;", "&")
    assert "who=carol" in link
    second = client.get(link).get_data(as_text=True)
    shown = _rows(second)
    assert len(shown) == 5 and all("user:carol" in row for row in shown) and "SKU-0<" in second
    assert "older_than" not in second.split("</table>")[1], "the last page links to no older one"


def test_csv_has_every_match_in_english_with_formulas_defused(app: Flask, client: FlaskClient) -> None:
    _seed(app, extra=AUDIT_PAGE + 5)
    login(client, "root", "copper-kettle-41")
    response = client.get("/admin/audit.csv?who=carol")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(("id", "at_utc", "who", "what", "record_type", "record_id", "before", "after", "comment"))
    assert len(rows) == 1 + AUDIT_PAGE + 5, "every match, not one page"
    assert rows[1][5] == "SKU-104" and rows[-1][5] == "SKU-0" and rows[-1][7] == '{"n": 0}'
    po2 = list(csv.reader(io.StringIO(client.get("/admin/audit.csv?record=PO-2").get_data(as_text=True))))[1:]
    comments = {row[3]: row[8] for row in po2}
    nothing = client.get("/admin/audit.csv?who=nobody-at-all").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(nothing))) == [rows[0]], "no match: the header alone, not an empty file"
    assert comments["po.send"] == "e-mailed to orders@acme.example"
    assert comments["po.submit"] == "'=HYPERLINK(\"http://x\",\"y\")", "a typed formula stays text in a spreadsheet"


def test_bad_filters_are_refused_naming_the_field(app: Flask, client: FlaskClient) -> None:
    _seed(app)
    login(client, "root", "copper-kettle-41")
    for query, field in (("who=" + "a" * 101, "who"), ("older_than=abc", "older_than"),
                         ("older_than=99999999999999", "older_than"), ("record=%00x", "record")):  # fmt: skip
        for path in ("/admin/audit", "/admin/audit.csv"):
            response = client.get(f"{path}?{query}")
            assert response.status_code == 422, (path, query, response.status_code)
            assert field in response.get_data(as_text=True)


def test_only_admins_read_the_audit_log(app: Flask, client: FlaskClient) -> None:
    _seed(app)
    login(client, "sam", "mas-password-9")
    for path in ("/admin/audit", "/admin/audit.csv"):
        assert client.get(path).status_code == 403


def test_a_period_is_in_the_sites_days(app: Flask, client: FlaskClient) -> None:
    from datetime import UTC, datetime

    from core.clock import ManualClock
    from core.models import Site

    _seed(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:
        s.add(Site(code="LA", name="Los Angeles", timezone="America/Los_Angeles"))  # the only site: its days
        for n, at in enumerate(("2026-03-01T07:59:00", "2026-03-01T08:00:00", "2026-03-02T07:59:00",
                                "2026-03-02T08:00:00")):  # fmt: skip
            clock = ManualClock(datetime.fromisoformat(at).replace(tzinfo=UTC))
            audit.record(s, "user:dana", "item.save", "item", f"DAY-{n}", clock=clock)
    login(client, "root", "copper-kettle-41")
    first_of_march = client.get("/admin/audit?who=dana&start=2026-03-01&end=2026-03-01").get_data(as_text=True)
    assert [n for n in range(4) if f"DAY-{n}<" in first_of_march] == [1, 2], "midnight to midnight in Los Angeles"
    since = client.get("/admin/audit?who=dana&start=2026-03-01").get_data(as_text=True)
    assert [n for n in range(4) if f"DAY-{n}<" in since] == [1, 2, 3]
    rows = list(csv.reader(io.StringIO(client.get("/admin/audit.csv?who=dana&end=2026-02-28").get_data(as_text=True))))
    assert [row[5] for row in rows[1:]] == ["DAY-0"], "the CSV takes the same period"
    for query in ("start=2026-02-30", "end=0001-01-01", "start=9999-12-31", "end=yesterday"):
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 422 and query.split("=")[0] in response.get_data(as_text=True), query
