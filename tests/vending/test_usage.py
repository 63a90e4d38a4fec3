"""Usage for billing: inclusive local dates, filters, names with codes, money; the page, CSV and XLSX agree."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.errors import DomainError
from core.models import Site
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import World, seed_world
from vending import charges, exports, ledger, usage

BERLIN_LAST_EVENING = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # 23:30 in Berlin on the To date: counted
BERLIN_NEXT_MORNING = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # 00:30 on 7 Dec in Berlin: not counted
BERLIN_FIRST_MORNING = datetime(2026, 11, 5, 23, 30, tzinfo=UTC)  # 00:30 on 6 Nov (From date) in Berlin: counted


def _take(s: Session, world: World, slot: str, worker: str, qty: int, at: datetime, key: str, **codes: str) -> None:
    ledger.post(
        s,
        slot_id=world.slots[slot],
        kind="issue",
        quantity=-qty,
        key=key,
        at=at,
        worker_id=world.workers[worker],
        charge_codes=codes or None,
    )


def _seed_usage(factory: sessionmaker[Session]) -> World:
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        s.execute(update(Site).values(timezone="Europe/Berlin"))
        charges.add_code(s, world.site_id, "cost_center", "CC-100", "Assembly line")
        charges.add_code(s, world.site_id, "cost_center", "CC-200", "Maintenance")
        _take(s, world, "A1", "W1", 2, BERLIN_FIRST_MORNING, "t1", cost_center="CC-100", work_order="WO-1")
        _take(s, world, "A2", "W3", 1, BERLIN_LAST_EVENING, "t2", cost_center="CC-200")
        _take(s, world, "A1", "W2", 1, datetime(2026, 11, 20, 10, 0, tzinfo=UTC), "t3", cost_center="CC-100")
        _take(s, world, "A3", "W3", 3, BERLIN_NEXT_MORNING, "t4", cost_center="CC-100")
        ledger.post(
            s,
            slot_id=world.slots["A1"],
            kind="return",
            quantity=1,
            key="r1",
            at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
            worker_id=world.workers["W2"],
            charge_codes={"cost_center": "CC-100"},
        )
    return world


def _query(**values: object) -> usage.UsageQuery:
    base: dict[str, object] = {"start": date(2026, 11, 6), "end": date(2026, 12, 6), "timezone": "Europe/Berlin"}
    base.update(values)
    return usage.UsageQuery(**base)  # type: ignore[arg-type]


def test_inclusive_local_dates_filters_and_names(session_factory: sessionmaker[Session]) -> None:
    _seed_usage(session_factory)
    with session_factory() as s:
        by_center = usage.run(s, _query(by="cost_center"))
        # t4 is on 7 Dec in Berlin: outside; the return of 1 nets CC-100 to 2 + 1 - 1
        assert [(ln.code, ln.name, ln.quantity, ln.value) for ln in by_center.lines] == [
            ("CC-100", "Assembly line", 2, Decimal("3.00")),
            ("CC-200", "Maintenance", 1, Decimal("1.50")),
        ]
        assert (by_center.quantity, by_center.value) == (3, Decimal("4.50"))
        one_day = usage.run(s, _query(start=date(2026, 12, 6), end=date(2026, 12, 6), by="item"))
        assert [(ln.code, ln.name, ln.quantity) for ln in one_day.lines] == [("DRL-8", "Drill bit 8 mm", 1)]
        filtered = usage.run(s, _query(by="item", cost_center="CC-100", work_order="WO-1"))
        assert [(ln.code, ln.quantity) for ln in filtered.lines] == [("GLV-1", 2)]
        assert [ln.code for ln in usage.run(s, _query(by="group", group="welders")).lines] == ["welders"]
        assert usage.run(s, _query(by="machine", machine="L1")).lines[0].name == "Locker 1"
        assert usage.run(s, _query(by="item", item="EAR-1")).lines == []
        assert sum(sum(v) for v in by_center.series.values()) == by_center.quantity
    with pytest.raises(DomainError, match="before the From date"):
        _query(start=date(2026, 12, 7))
    with pytest.raises(DomainError, match="group by must be one of"):
        _query(by="nope")


@pytest.fixture
def admin_client(app: Flask, client: FlaskClient) -> FlaskClient:
    factory = app.extensions["vendtrack"].session_factory
    _seed_usage(factory)
    with unit_of_work(factory) as s:
        create_user(s, "boss", "ssob-password", [Role.ADMIN])
        create_user(s, "nurse", "esrun-password", [Role.STAFF])
    login(client, "boss", "ssob-password")
    return client


def _page_table(html: str) -> list[list[str]]:
    table = html[html.index('<table id="usage-table">') : html.index("</table>", html.index('id="usage-table"'))]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        rows.append(cells)
    return rows


def test_page_csv_and_xlsx_are_the_same_table(admin_client: FlaskClient) -> None:
    query = "start=2026-11-06&end=2026-12-06&by=cost_center"
    html = admin_client.get(f"/vending/reports/usage?{query}").get_data(as_text=True)
    page = _page_table(html)
    assert page[0] == ["Cost center", "Cost center name", "Quantity", "Value"]
    assert page[1:] == [
        ["CC-100", "Assembly line", "2", "3.00"],
        ["CC-200", "Maintenance", "1", "1.50"],
        ["Total", "", "3", "4.50"],
    ]
    assert "2026-11-06 to 2026-12-06 inclusive" in html and "Europe/Berlin" in html
    response = admin_client.get(f"/vending/reports/usage?{query}&format=csv")
    assert 'filename="usage-by-cost_center-20261106-20261206.csv"' in response.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == page
    book = load_workbook(io.BytesIO(admin_client.get(f"/vending/reports/usage?{query}&format=xlsx").data))
    sheet = [["" if v is None else v for v in row] for row in book["Usage"].iter_rows(values_only=True)]
    assert sheet[0] == page[0]
    assert [[str(a), str(b), str(q), f"{v:.2f}"] for a, b, q, v in sheet[1:]] == page[1:]
    assert isinstance(sheet[1][2], int) and isinstance(sheet[1][3], int | float)  # numbers a spreadsheet adds up
    assert book["Usage"]["D2"].number_format == "0.00"
    # the same dates submitted again are still inclusive (the bug: the To date became exclusive once submitted)
    again = _page_table(admin_client.get(f"/vending/reports/usage?{query}").get_data(as_text=True))
    assert again == page


def test_personal_usage_is_for_admins_only(admin_client: FlaskClient) -> None:
    assert "W3" in admin_client.get("/vending/reports/usage?by=worker&start=2026-11-06&end=2026-12-06").get_data(
        as_text=True
    )
    admin_client.post("/logout", data={"csrf_token": _csrf(admin_client)})
    login(admin_client, "nurse", "esrun-password")
    html = admin_client.get("/vending/reports/usage").get_data(as_text=True)
    assert 'value="worker"' not in html
    assert admin_client.get("/vending/reports/usage?by=worker").status_code == 403
    assert admin_client.get("/vending/reports/usage?by=worker&format=csv").status_code == 403
    assert admin_client.get("/vending/reports/outliers").status_code == 403


def _csrf(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/vending/reports/usage").get_data(as_text=True))
    assert match
    return match.group(1)


@pytest.mark.parametrize(
    "query, says",
    [
        ("start=2026-13-01", "start must be a date like 2026-11-06"),
        ("end=yesterday", "end must be a date"),
        ("start=2026-12-07&end=2026-12-06", "swap them"),
        ("by=%00", "contains a NUL character"),
        ("start=1900-01-01&end=2026-01-01", "shorten the range"),
        ("cost_center=" + "x" * 100000, "2000 at most"),
    ],
)
def test_bad_report_input_names_the_field(admin_client: FlaskClient, query: str, says: str) -> None:
    response = admin_client.get(f"/vending/reports/usage?{query}")
    wanted = range(200, 201) if says == "No usage" else range(400, 423)
    assert response.status_code in wanted, response.status_code
    assert says in response.get_data(as_text=True)


def test_typed_codes_never_become_formulas(session_factory: sessionmaker[Session]) -> None:
    world = seed_world(session_factory)
    with unit_of_work(session_factory) as s:
        _take(
            s,
            world,
            "A1",
            "W1",
            1,
            datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            "f1",
            work_order='=HYPERLINK("http://x","y")',
        )
    with session_factory() as s:
        report = usage.run(s, _query(by="work_order", timezone="UTC"))
    assert report.lines[0].code.startswith("=")
    assert "'=HYPERLINK" in exports.to_csv(report)
    cell = load_workbook(io.BytesIO(exports.to_xlsx(report)))["Usage"]["A2"]
    assert cell.data_type == "s" and cell.value.startswith("=")
