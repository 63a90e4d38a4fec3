"""No button a role cannot use: for each role and each PO status, every action form the PO page shows is submitted
on a fresh order in that status and must work (never 403/409), and every action the page hides is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from procurement import approval, orders, receiving, workflow
from procurement.po_actions import ACTION_ROLES
from procurement.suppliers import supplier_by_code
from tests.conftest import csrf_from, login
from tests.procurement.conftest import World, seed_world

USERS = {  # username → roles; "requester" raises every order and so may not approve it
    "buyer": [Role.PROCUREMENT],
    "approver": [Role.APPROVER],
    "admin": [Role.ADMIN],
    "requester": [Role.PROCUREMENT, Role.APPROVER],
}
STATES = ("draft", "pending_approval", "approved", "rejected", "ordered", "partly_received", "received", "closed")
FILL = {  # what a person types into each action's form
    "approve": {"comment": "fine"},
    "reject": {"comment": "wrong supplier"},
    "cancel": {"reason": "no longer needed"},
    "mark_ordered": {"channel": "phone", "reference": "T-77"},
    "receive": {"line_1": "4", "note": "DN-1"},
    "close_short": {"reason": "discontinued"},
    "edit_line": {"quantity": "12", "unit_price": "9.20"},
}
PATHS = {"mark_ordered": "mark-ordered", "close_short": "close-short", "edit_line": "lines/1"}


def _world(app: Flask) -> World:
    from core.clock import ManualClock, SystemClock

    world = seed_world(app.extensions["vendtrack"].session_factory, ManualClock(SystemClock().now()))
    with unit_of_work(world.factory) as s:
        for name, roles in USERS.items():
            create_user(s, name, f"{name[::-1]}-password", roles)
    return world


def _order_in(world: World, state: str) -> str:
    """A manual order of 10 GLOVE raised by `requester`, moved to `state` by the services."""
    clock, requester = world.clock, "user:requester"
    boss = approval.Approver("user:boss", "boss", frozenset({"approver"}))
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, requester, clock)
        orders.add_line(s, po, "GLOVE", 10, Decimal("9.20"), requester, clock)
        number = po.po_number
        if state == "draft":
            return number
        workflow.submit(s, number, requester, clock)
        if state == "rejected":
            approval.reject(s, number, boss, clock, "too many")
        if state in ("pending_approval", "rejected"):
            return number
        approval.approve(s, number, boss, clock)
        if state == "approved":
            return number
        orders.mark_ordered(s, number, "portal", "", requester, clock)
        if state == "partly_received":
            receiving.receive(s, number, {1: 4}, requester, clock)
        if state in ("received", "closed"):
            receiving.receive(s, number, {1: 10}, requester, clock)
        if state == "closed":
            orders.close(s, number, requester, clock)
    return number


def _shown(client: FlaskClient, number: str) -> set[str]:
    html = client.get(f"/procurement/po/{number}").get_data(as_text=True)
    return set(re.findall(r'data-action="([a-z_]+)"', html))


def _press(client: FlaskClient, number: str, action: str) -> tuple[int, str]:
    url = f"/procurement/po/{number}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    response = client.post(f"{url}/{PATHS.get(action, action)}", data={"csrf_token": token, **FILL.get(action, {})})
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("user", sorted(USERS))
def test_every_visible_action_works_and_every_hidden_one_is_refused(app: Flask, user: str) -> None:
    world = _world(app)
    client = app.test_client()
    login(client, user, f"{user[::-1]}-password")
    app.extensions["vendtrack"].settings.smtp_port = 1  # "send" may queue (mail down) but must not be refused
    offered: dict[str, set[str]] = {}
    for state in STATES:
        shown = _shown(client, _order_in(world, state))
        offered[state] = shown
        for action in sorted(ACTION_ROLES):
            status, body = _press(client, _order_in(world, state), action)
            if action in shown:
                assert status == 200 or status == 302, f"{user}/{state}: visible {action} answered {status}"
                assert 'id="form-error"' not in body, f"{user}/{state}: visible {action} was refused"
            else:
                assert status in (403, 409), f"{user}/{state}: hidden {action} answered {status}, not a refusal"
    if user == "approver":  # an approver decides and reads; nothing else
        assert offered["pending_approval"] == {"approve", "reject"} and offered["approved"] == set()
    if user == "buyer":  # never Approve; Submit only on drafts; receiving once ordered
        assert "approve" not in offered["pending_approval"] and offered["approved"] >= {"send", "mark_ordered"}
        assert "submit" not in offered["approved"] and "receive" in offered["ordered"]
    if user == "requester":  # holds the approver role but raised the order: segregation of duties
        assert "approve" not in offered["pending_approval"]


@pytest.mark.sqlite_only
def test_a_german_buyer_reads_refusals_and_the_result_in_german(app: Flask) -> None:
    world = _world(app)
    client = app.test_client()
    login(client, "buyer", "reyub-password")
    client.set_cookie("vendtrack_lang", "de")
    approved = _order_in(world, "approved")
    status, body = _press(client, approved, "submit")
    assert status == 409 and f"{approved} hat den Status „Genehmigt“: „einreichen“ ist jetzt nicht möglich" in body
    ordered = _order_in(world, "ordered")
    url = f"/procurement/po/{ordered}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    refused = client.post(f"{url}/receive", data={"csrf_token": token, "line_1": "0"})
    assert "geben Sie in mindestens einer Position eine empfangene Menge ein" in refused.get_data(as_text=True)
    client.set_cookie("vendtrack_lang", "en")
    status, body = _press(client, approved, "submit")
    assert status == 409 and f"{approved} is approved: submit is not possible now" in body
