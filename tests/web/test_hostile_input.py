"""Hostile input at every form, JSON endpoint, query string and CSV import, on SQLite and PostgreSQL.

Routes are discovered from `app.url_map`; each is called by a caller its access declaration admits (a logged-in
role with its CSRF token, or a bearer token), with hypothesis-generated values: NaN, inf, 1e400, huge integers,
NUL and control characters, 100k characters, lone surrogates, deep JSON, wrong JSON types, empty bodies.
Every answer must be below 500 and free of database text; afterwards no NUL is stored and /healthz is ok.
Each route first gets a fixed sweep (every field alone with each classic hostile value, malformed bodies), then
HOSTILE_EXAMPLES (default 4) hypothesis examples per route.
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
    JSON_KEYS,
    JSON_NAMES,
    OTHER_OWNERS,
    QUERY_NAMES,
    SWEEP_JSON,
    SWEEP_TEXT,
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
from vending.demo import badge_of

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "4"))
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
    if response.mimetype == "text/event-stream":  # a stream that lasts minutes: its first event is the answer
        body = next(iter(response.response), b"").decode("utf-8", "replace")
        response.close()
    else:
        body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{route.method} {route.rule} {what}: {response.status_code}\n{body[:800]}"
    word = leaked(body)
    assert word is None, f"{route.method} {route.rule} {what}: answer shows {word!r}\n{body[:800]}"


class Attacker:
    """Sends one route its hostile requests through the caller its access declaration admits."""

    def __init__(self, route: Route, caller: tuple[FlaskClient, dict[str, str], str], values: dict[str, str]) -> None:
        self.route, self.values = route, values
        self.client, self.headers, self.token = caller
        if token := self.token:
            self.headers = self.headers | {"X-CSRF-Token": token}
        if route.endpoint.startswith("vending_kiosk_api."):  # a restocker signed in, so the body gets read
            url = fill("/api/v1/vending/kiosk/<machine_code>/badge", values)
            self.client.post(url, json={"badge": badge_of(20)}, headers=self.headers)

    def get(self, query: dict[str, str], path: str | None = None) -> None:
        response = self.client.get(fill(self.route.rule, self.values, path), query_string=query, headers=self.headers)
        _check(self.route, response, f"path {path!r:.60} query {query!r:.200}")

    def form(self, data: dict[str, str], path: str | None = None) -> None:
        sent = data | ({"csrf_token": self.token} if self.token else {})
        response = self.client.post(fill(self.route.rule, self.values, path), data=sent, headers=self.headers)
        _check(self.route, response, f"path {path!r:.60} form {data!r:.200}")

    def body(self, raw: str | bytes, path: str | None = None) -> None:
        url = fill(self.route.rule, self.values, path)
        response = self.client.post(url, data=raw, content_type="application/json", headers=self.headers)
        _check(self.route, response, f"path {path!r:.60} JSON {raw!r:.200}")

    def numbers(self) -> None:
        """Every <int:...> of the path at the edges of what a database column holds, and beyond (20 digits once
        reached SQLite's driver: OverflowError, a 500)."""
        if "<int:" not in self.route.rule:
            return
        for number in ("0", str(2**31), str(2**53), str(2**53 + 1), str(2**63), "9" * 20, "9" * 400):
            url = fill(self.route.rule, self.values, number=number)
            if self.route.method == "GET":
                response = self.client.get(url, headers=self.headers)
            else:
                response = self.client.post(url, data="{}", content_type="application/json", headers=self.headers)
            _check(self.route, response, f"number {number[:30]} in the path")

    def sweep(self, names: list[str], json_names: list[str], own_form: bool = True) -> None:
        """Each field alone with each of the classic hostile values; the whole body malformed in a few ways.

        A route whose own form was not found gets every field name the pages use: those go all at once per value
        (one request each, not one per name: a few hundred names made the sweep the slowest test in CI)."""
        if self.route.method == "GET":
            for name in QUERY_NAMES:
                for value in SWEEP_TEXT:
                    self.get({name: value})
            return
        for value in SWEEP_TEXT:
            if own_form:
                for name in names:
                    self.form({name: value})
            else:  # in groups that keep the body under the app's 16 MB limit, so the fields are read
                per_request = max(1, (8 << 20) // max(len(value), 1))
                for first in range(0, len(names), per_request):
                    self.form(dict.fromkeys(names[first : first + per_request], value))
        for name in json_names:
            for leaf in SWEEP_JSON:
                self.body(as_json({name: leaf}))
            self.body(f'{{"{name}": 1e400}}')
        for raw in (DEEP_JSON, "", "[]", '"text"', "{", b"\xff\xfe{\x00"):
            self.body(raw)

    def fuzz(self, names: list[str], json_names: list[str]) -> None:
        """Hypothesis-generated values for the same fields, the query and the path."""

        @SETTINGS
        @given(
            data=st.dictionaries(st.sampled_from(names or QUERY_NAMES), hostile_text, max_size=4),
            json_body=st.one_of(st.dictionaries(st.sampled_from(json_names), hostile_json, max_size=4), hostile_json),
            query=st.dictionaries(st.sampled_from(QUERY_NAMES), hostile_text, max_size=3),
            path=st.one_of(st.none(), hostile_text.filter(lambda v: "/" not in v and v.strip() not in (".", ".."))),
        )
        def attack(data: dict[str, str], json_body: Any, query: dict[str, str], path: str | None) -> None:
            if self.route.method == "GET":
                self.get(query, path)
            else:
                self.form(data, path)
                self.body(as_json(json_body), path)

        attack()


@pytest.mark.timeout(1800)  # ~5,000 requests: a few minutes on two idle cores, longer on a busy machine
def test_every_route_survives_hostile_values(world: tuple[Flask, Callers, dict[str, str]]) -> None:
    app, callers, values = world
    all_routes = routes(app)
    pages = [fill(r.rule, values) for r in all_routes if r.method == "GET" and not r.is_api]
    names_by_target = form_names(app, callers, pages)
    every_name = sorted(set().union(*names_by_target.values()))
    failures = []
    only = os.environ.get("HOSTILE_ONLY", "")  # an endpoint name, to replay one route
    for route in [r for r in all_routes if not only or r.endpoint == only]:
        attacker = Attacker(route, callers.for_route(route), values)
        own = sorted(names_by_target.get(fill(route.rule, values), set()))
        names = own or ([] if route.is_api else every_name)
        json_names = JSON_KEYS.get(route.endpoint, JSON_NAMES) if route.is_api else []
        try:
            attacker.numbers()
            attacker.sweep(names, json_names, own_form=bool(own))
            attacker.fuzz(names, json_names or JSON_NAMES)
        except AssertionError as exc:
            failures.append(("[owned elsewhere] " if route.endpoint in OTHER_OWNERS else "") + str(exc)[:2000])
    assert not callers.shared_logins_still_valid(), "a route ended a shared login: later routes were not reached"
    health = app.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["database"] == "ok", health.get_data(as_text=True)
    assert not stored_nul(app), f"NUL stored in {stored_nul(app)}"
    assert not failures, f"{len(failures)} route(s) failed:\n\n" + "\n\n".join(failures)
