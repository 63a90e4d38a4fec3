"""Hostile input at every form, JSON endpoint, query string and CSV import, on SQLite and PostgreSQL.

Routes are discovered from `app.url_map`; each is called by a caller its access declaration admits (a logged-in
role with its CSRF token, or a bearer token), with hypothesis-generated values: NaN, inf, 1e400, huge integers,
NUL and control characters, 100k characters, lone surrogates, deep JSON, wrong JSON types, empty bodies.
Every answer must be below 500 and free of database text; afterwards no NUL is stored and /healthz is ok.
HOSTILE_EXAMPLES (default 6) sets the examples per route.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.hostile import (
    DEEP_JSON,
    JSON_NAMES,
    OTHER_OWNERS,
    QUERY_NAMES,
    Callers,
    Route,
    as_json,
    fill,
    form_names,
    hostile_json,
    hostile_text,
    leaked,
    path_values,
    routes,
    seed,
    stored_nul,
)

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "6"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


@pytest.fixture
def world(app: Flask) -> Iterator[tuple[Flask, Callers, dict[str, str]]]:
    app.config["VENDING_KIOSK_IDLE_SECONDS"] = 3600
    seed(app)
    yield app, Callers(app), path_values(app)


def _check(route: Route, response: Any, what: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{route.method} {route.rule} {what}: {response.status_code}\n{body[:800]}"
    word = leaked(body)
    assert word is None, f"{route.method} {route.rule} {what}: answer shows {word!r}\n{body[:800]}"


def _attack_route(
    route: Route, client: FlaskClient, headers: dict[str, str], token: str, values: dict[str, str], names: set[str]
) -> None:
    field_names = sorted(names) or JSON_NAMES if not route.is_api else JSON_NAMES

    @SETTINGS
    @given(
        data=st.dictionaries(st.sampled_from(field_names), hostile_text, max_size=len(field_names)),
        json_body=st.one_of(st.dictionaries(st.sampled_from(JSON_NAMES), hostile_json, max_size=6), hostile_json),
        query=st.dictionaries(st.sampled_from(QUERY_NAMES), hostile_text, max_size=3),
        path_attack=st.one_of(st.none(), hostile_text.filter(lambda v: "/" not in v and v.strip() not in (".", ".."))),
        shape=st.sampled_from(["form", "json", "deep", "empty", "garbage"]),
    )
    def attack(
        data: dict[str, str], json_body: Any, query: dict[str, str], path_attack: str | None, shape: str
    ) -> None:
        url = fill(route.rule, values, path_attack)
        what = f"(path {path_attack!r:.60}, shape {shape})"
        if route.method == "GET":
            response = client.get(url, query_string=query, headers=headers)
            _check(route, response, what + f" query {query!r:.200}")
            return
        sent_headers = dict(headers) | ({"X-CSRF-Token": token} if token else {})
        if shape == "form":
            response = client.post(url, data=data | ({"csrf_token": token} if token else {}), headers=sent_headers)
        elif shape == "json":
            response = client.post(url, data=as_json(json_body), content_type="application/json", headers=sent_headers)
        elif shape == "deep":
            response = client.post(url, data=DEEP_JSON, content_type="application/json", headers=sent_headers)
        elif shape == "garbage":
            response = client.post(url, data=b"\xff\xfe{\x00", content_type="application/json", headers=sent_headers)
        else:
            response = client.post(url, headers=sent_headers, data={"csrf_token": token} if token else {})
        _check(route, response, what + f" form {data!r:.200} json {json_body!r:.200}")

    attack()


def test_every_route_survives_hostile_values(world: tuple[Flask, Callers, dict[str, str]]) -> None:
    app, callers, values = world
    all_routes = routes(app)
    pages = [fill(r.rule, values) for r in all_routes if r.method == "GET" and not r.is_api and "<" not in r.rule]
    pages += [fill(r.rule, values) for r in all_routes if r.method == "GET" and not r.is_api and "<" in r.rule]
    names_by_target = form_names(app, callers, pages)
    failures = []
    for route in all_routes:
        client, headers, token = callers.for_route(route)
        names = names_by_target.get(fill(route.rule, values), set())
        try:
            _attack_route(route, client, headers, token, values, names)
        except AssertionError as exc:
            if route.endpoint in OTHER_OWNERS:
                failures.append(f"[owned elsewhere] {exc}")
            else:
                failures.append(str(exc))
    health = app.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["database"] == "ok", health.get_data(as_text=True)
    assert not stored_nul(app), f"NUL stored in {stored_nul(app)}"
    assert not failures, f"{len(failures)} route(s) failed:\n\n" + "\n\n".join(failures)
