"""Security headers on every kind of answer: pages, JSON, errors, static files, redirects."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import unit_of_work
from core.roles import TokenScope
from core.users import create_token


@pytest.fixture
def bearer(app: Flask) -> dict[str, str]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        plain, _ = create_token(session, "reader", [TokenScope.READ])
    return {"Authorization": f"Bearer {plain}"}


def test_every_answer_carries_the_security_headers(client: FlaskClient, bearer: dict[str, str]) -> None:
    answers = {
        "login page (HTML)": client.get("/login"),
        "JSON API": client.get("/api/v1/whoami", headers=bearer),
        "JSON error": client.get("/api/v1/whoami"),
        "HTML redirect": client.get("/admin/users"),
        "404": client.get("/no/such/page"),
        "static file": client.get("/static/style.css"),
        "health": client.get("/healthz"),
    }
    assert answers["JSON API"].status_code == 200 and answers["JSON API"].is_json
    for what, response in answers.items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, what
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], f"{what}: inline scripts allowed"
        assert headers.get("X-Frame-Options") == "DENY", what
        assert headers.get("X-Content-Type-Options") == "nosniff", what
        assert headers.get("Referrer-Policy") == "same-origin", what
        assert "Strict-Transport-Security" not in headers, f"{what}: HSTS only when served over HTTPS"


def test_hsts_when_cookies_are_https_only(app: Flask, client: FlaskClient) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"
