"""Visits every route as every role, as a token of every scope and anonymously: allowed vs denied.

The expectation comes from each view's access declaration, and a few routes are pinned by hand so the
declarations themselves are checked. A route without a declaration fails this test (deny by default).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.access import Access, access_of
from core.db import unit_of_work
from core.models import Site
from core.roles import Role, TokenScope
from core.users import create_token, create_user
from tests.conftest import login
from web.auth import Principal, is_allowed

PINNED = {  # (endpoint, who) -> allowed; who is a role value, "token:<scope>" or "anonymous"
    ("admin.user_list", "admin"): True,
    ("admin.user_list", "staff"): False,
    ("admin.user_list", "procurement"): False,
    ("admin.user_list", "anonymous"): False,
    ("admin.token_list", "approver"): False,
    ("admin.outbox_view", "restocker"): False,
    ("health.healthz", "anonymous"): True,
    ("admin.user_list", "token:gateway"): False,
}

SAMPLE_VALUES = {"int": "1", "string": "x", "path": "x", "float": "1.0", "uuid": "00000000-0000-0000-0000-000000000000"}


def _url_for_rule(rule: Any) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "string"
        return SAMPLE_VALUES.get(converter.split("(")[0], "x")

    return re.sub(r"<(?:([a-z_]+(?:\([^)]*\))?):)?[a-z_]+>", fill, rule.rule)


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, _url_for_rule(rule)))
    # Revoking token 1 and logging out end a caller's credentials, so they go last.
    return sorted(found, key=lambda route: (route[0] == "auth.logout", route[0] == "admin.token_revoke"))


def _principal_for(who: str) -> Principal | None:
    if who == "anonymous":
        return None
    if who.startswith("token:"):
        return Principal("token", 1, "t", frozenset(), frozenset({who[6:]}))
    return Principal("user", 1, "u", frozenset({who}), frozenset())


def _denied(response: Any, who: str) -> bool:
    if who == "anonymous" or who.startswith("token:"):
        if response.status_code == 302:
            return "/login" in response.headers.get("Location", "")
        return response.status_code in (401, 403)
    return response.status_code == 403


@pytest.fixture
def callers(app: Flask) -> dict[str, tuple[FlaskClient, dict[str, str]]]:
    clients: dict[str, tuple[FlaskClient, dict[str, str]]] = {"anonymous": (app.test_client(), {})}
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        for role in Role:
            create_user(session, f"user-{role.value}", "xirtam-password", [role])
        site = Site(code="M1", name="Matrix site")
        session.add(site)
        session.flush()
        tokens = {
            scope: create_token(session, f"tok-{scope.value}", [scope], site_id=site.id)[0] for scope in TokenScope
        }
    for role in Role:
        client = app.test_client()
        login(client, f"user-{role.value}", "xirtam-password")
        clients[role.value] = (client, {})
    for scope, plain in tokens.items():
        clients[f"token:{scope.value}"] = (app.test_client(), {"Authorization": f"Bearer {plain}"})
    return clients


def test_every_route_declares_access(app: Flask) -> None:
    missing = [
        rule.endpoint for rule in app.url_map.iter_rules() if access_of(app.view_functions[rule.endpoint]) is None
    ]
    assert not missing, f"routes without an access declaration: {missing}"


def test_every_route_as_every_caller(app: Flask, callers: dict[str, tuple[FlaskClient, dict[str, str]]]) -> None:
    app.config["CSRF_DISABLED"] = True  # CSRF is tested on its own; here only the access decision matters
    routes = _routes(app)
    assert len(routes) >= 10
    checked = 0
    problems = []
    for endpoint, method, url in routes:
        if endpoint == "static":
            continue
        rule: Access = access_of(app.view_functions[endpoint])  # type: ignore[assignment]
        for who, (client, headers) in callers.items():
            expected = is_allowed(rule, _principal_for(who))
            pinned = PINNED.get((endpoint, who))
            if pinned is not None and pinned != expected:
                problems.append(f"{endpoint} as {who}: declaration says {expected}, policy says {pinned}")
            response = client.open(url, method=method, headers=headers, data={})
            if rule.public:
                # A public page may still answer 401 (a failed login) or redirect; it must never be forbidden.
                if response.status_code == 403:
                    problems.append(f"{method} {url} as {who}: public but got 403")
                checked += 1
                continue
            denied = _denied(response, who)
            if expected and denied:
                problems.append(f"{method} {url} as {who}: allowed by declaration but got {response.status_code}")
            if not expected and not denied:
                problems.append(f"{method} {url} as {who}: should be denied but got {response.status_code}")
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= len(routes) * len(callers) - len(callers)
