"""Menus by role: every link a role is shown (top bar and the vending sub-menu) opens for that role."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import seed_world


def _links(html: str, nav_class: str) -> list[str]:
    block = re.search(rf'<nav[^>]*class="[^"]*{nav_class}[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', block.group(1)) if block else []


@pytest.mark.parametrize("role", list(Role))
def test_every_menu_link_opens_for_its_role(app: Flask, client: FlaskClient, role: Role) -> None:
    factory = app.extensions["vendtrack"].session_factory
    seed_world(factory)
    with unit_of_work(factory) as s:
        create_user(s, "who", "who-password-1", [role])
    login(client, "who", "who-password-1")
    home = client.get("/").get_data(as_text=True)
    top = re.search(r'<header class="topbar">.*?<nav[^>]*>(.*?)</nav>', home, re.S)
    assert top is not None
    tiles = re.search(r'<ul class="tiles">(.*?)</ul>', home, re.S)
    assert tiles is not None
    shown = re.findall(r'href="([^"]+)"', top.group(1))
    assert re.findall(r'href="([^"]+)"', tiles.group(1)) == shown  # the home page offers the same pages
    seen, queue = set(), list(shown)
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, f"{role.value} is shown {url} but it answers {response.status_code}"
        queue += _links(response.get_data(as_text=True), "vending-nav")
    if role is Role.STAFF:  # the nurse: usage by group/item/cost center, no vending admin pages, no named workers
        assert "/vending/reports/usage" in seen and "/vending/" not in seen
        usage_page = client.get("/vending/reports/usage").get_data(as_text=True)
        assert _links(usage_page, "vending-nav") == ["/vending/reports/usage", "/vending/ledger"]
        assert 'value="worker"' not in usage_page
    if role is Role.RESTOCKER:
        assert "/vending/" in seen and "/vending/reports/usage" not in seen
