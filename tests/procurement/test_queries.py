"""The PO list (procurement queue page and GET /api/v1/procurement/purchase-orders) reads a bounded number of SQL
statements whatever the number of orders and lines: counted with a SQLAlchemy event listener on each of the app's
engines (the request's read-only one on SQLite too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from core.clock import ManualClock, SystemClock
from core.db import make_engine, make_session_factory, unit_of_work
from core.notes import Note
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from procurement import orders, workflow
from procurement.suppliers import supplier_by_code
from tests.conftest import login
from tests.procurement.conftest import World, seed_world
from web.session import READ_FACTORY

QUEUE_BOUND = 15  # the page's statements (session, queue and its lines, exceptions, spend, counts): 12 today
API_BOUND = 4  # the queue and its lines are prepared statements on the read connection (not counted here): 0 today


@contextmanager
def _counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    engines: list[Any] = [app.extensions["vendtrack"].session_factory.kw["bind"]]
    if (read_factory := app.extensions.get(READ_FACTORY)) is not None:
        engines.append(read_factory.kw["bind"])

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def _orders(world: World, how_many: int, lines: int) -> None:
    """`how_many` orders of `lines` lines each (at most 3: one per item), ACME and OMEGA; half submitted."""
    with unit_of_work(world.factory) as s:
        for n in range(how_many):
            supplier = "ACME" if n % 3 else "OMEGA"
            po = orders.new_po(s, supplier_by_code(s, supplier), world.site_id, "user:bob", world.clock)
            for k in range(lines):
                orders.add_line(
                    s,
                    po,
                    ("GLOVE", "WIPE", "DRILL")[k],
                    6 * (k + 1),
                    Decimal("2.50"),
                    "user:bob",
                    world.clock,
                    reason=Note.typed(f"line {k}"),
                )
            if n % 2:
                workflow.submit(s, po.po_number, "user:bob", world.clock)


def _setup(app: Flask) -> tuple[World, str]:
    world = seed_world(app.extensions["vendtrack"].session_factory, ManualClock(SystemClock().now()))
    with unit_of_work(world.factory) as s:
        create_user(s, "ann", "nna-password", [Role.APPROVER, Role.PROCUREMENT])
        token, _ = create_token(s, "erp", [TokenScope.ERP])
    return world, f"Bearer {token}"


def _counts(app: Flask, client: FlaskClient, auth: str) -> tuple[int, int, int]:
    counts = []
    for url, headers in (("/procurement/?status=", {}), ("/procurement/", {}),
                         ("/api/v1/procurement/purchase-orders", {"Authorization": auth})):  # fmt: skip
        client.get(url, headers=headers)  # warm: first-use lookups (settings, labels) are not per order
        with _counting(app) as statements:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        counts.append(len(statements))
    return counts[0], counts[1], counts[2]


def test_the_po_list_reads_the_same_statements_for_2_or_40_orders(app: Flask, client: FlaskClient) -> None:
    world, auth = _setup(app)
    login(client, "ann", "nna-password")
    _orders(world, 2, 1)
    few = _counts(app, client, auth)
    _orders(world, 38, 3)
    many = _counts(app, client, auth)
    assert many == few, f"statements grew with the orders: {few} for 2 orders, {many} for 40"
    assert many[0] <= QUEUE_BOUND and many[1] <= QUEUE_BOUND and many[2] <= API_BOUND, many
    page = client.get("/procurement/?status=").get_data(as_text=True)
    assert page.count("/procurement/po/") >= 40  # every order is listed


def test_the_list_body_is_kept_per_language_and_shows_another_process_s_change_at_once(
    app: Flask, client: FlaskClient
) -> None:
    world, auth = _setup(app)
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "system:replenish", world.clock)
        orders.add_line(s, po, "GLOVE", 6, Decimal("2.50"), "system:replenish", world.clock)
    url = "/api/v1/procurement/purchase-orders?status="
    english = client.get(url, headers={"Authorization": auth, "Accept-Language": "en"}).get_json()
    german = client.get(url, headers={"Authorization": auth, "Accept-Language": "de"}).get_json()
    assert english["purchase_orders"][0]["requester"] == "replenishment"
    assert german["purchase_orders"][0]["requester"] != "replenishment", "each language has its own body"
    assert client.get(url, headers={"Authorization": auth, "Accept-Language": "en"}).get_json() == english
    other = make_engine(app.extensions["vendtrack"].settings.database_url)  # another process
    try:
        with unit_of_work(make_session_factory(other)) as s:
            orders.add_line(s, orders.get_po(s, po.po_number), "WIPE", 2, Decimal("1.00"), "user:bob", world.clock)
    finally:
        other.dispose()
    again = client.get(url, headers={"Authorization": auth, "Accept-Language": "en"}).get_json()
    assert again["purchase_orders"][0]["total"] != english["purchase_orders"][0]["total"], "the new line counts"
    assert again["totals"] != english["totals"]


def test_the_list_shows_another_connection_s_change_of_a_line_s_quantity_or_price_at_once(
    app: Flask, client: FlaskClient
) -> None:
    """The list reads only its lines' quantities and prices: a change to either (no row added or taken away) is
    still a change of the rows it compares, so the kept body is not served."""
    world, auth = _setup(app)
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, "GLOVE", 6, Decimal("2.50"), "user:bob", world.clock)
        orders.add_line(s, po, "WIPE", 2, Decimal("1.00"), "user:bob", world.clock)
    url, headers = "/api/v1/procurement/purchase-orders?status=", {"Authorization": auth}

    def total() -> str:
        listed = client.get(url, headers=headers).get_json()["purchase_orders"]
        return next(r["total"] for r in listed if r["po_number"] == po.po_number)

    before = total()
    assert total() == before  # the kept body
    other = make_engine(app.extensions["vendtrack"].settings.database_url)  # another process
    try:
        for change in ("UPDATE proc_po_line SET quantity = 7 WHERE po_id = :po AND line_number = 1",
                       "UPDATE proc_po_line SET unit_price = 3.25 WHERE po_id = :po AND line_number = 2"):  # fmt: skip
            with other.begin() as connection:
                connection.execute(text(change), {"po": po.id})
            after = total()
            assert after != before, change
            before = after
    finally:
        other.dispose()
    with unit_of_work(world.factory) as s:
        assert Decimal(before) == orders.po_totals(s, orders.get_po(s, po.po_number)).total  # taxed
