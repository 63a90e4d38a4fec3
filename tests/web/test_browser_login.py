"""The login page and navigation in a real headless Chromium."""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import LiveServer


def test_staff_logs_in_sees_only_their_links_and_logs_out(app: Flask, live_server: LiveServer, page: Any) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF], display_name="Nina Nurse")
        create_user(session, "root", "copper-kettle-41", [Role.ADMIN])
    page.goto(live_server.url + "/admin/users")
    assert "/login" in page.url
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", "gnorw-password")
    page.click("button[type=submit]")
    assert page.locator(".flash.error").inner_text() == "Wrong username or password."
    page.fill("input[name=password]", "walnut-lantern-7")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Not allowed"  # came back to /admin/users, which staff may not see
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Welcome, nina"
    assert page.locator("header nav a", has_text="Users").count() == 0
    page.click("text=Log out")
    assert "/login" in page.url
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "copper-kettle-41")
    page.click("button[type=submit]")
    page.goto(live_server.url + "/")
    page.click("header nav .nav-group-toggle:has-text('Admin')")  # the admin's menu comes in groups
    page.click("header nav a:has-text('Users')")
    assert page.get_by_role("cell", name="nina", exact=True).count() == 1
