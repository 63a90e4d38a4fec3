"""The core smoke flow and a small HTTP client that domain smoke flows can use against the demo server."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from core.db import unit_of_work
from core.roles import TokenScope
from core.runtime import DemoContext, SmokeResult
from core.users import create_token


class DemoClient:
    """A cookie-keeping HTTP client that logs in through the real login form (CSRF included)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        body = None
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=all_headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")  # a PDF reads as text too
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def csrf(self, path: str) -> str:
        _status, page = self.request("GET", path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def login(self, username: str, password: str) -> None:
        token = self.csrf("/login")
        status, _ = self.request(
            "POST", "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        if status != 200:
            raise RuntimeError(f"login as {username} answered HTTP {status}")


def core_smoke(demo: DemoContext) -> SmokeResult:
    client = DemoClient(demo.base_url)
    client.login("admin", "keys-to-the-plant")
    status, page = client.request("GET", "/admin/users")
    if status != 200 or "nurse" not in page:
        return SmokeResult(False, f"admin user list answered HTTP {status}")
    with unit_of_work(demo.services.session_factory) as session:
        plain, _ = create_token(session, "smoke", [TokenScope.READ], actor="demo")
    status, body = DemoClient(demo.base_url).request(
        "GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {plain}"}
    )
    if status != 200 or json.loads(body).get("name") != "smoke":
        return SmokeResult(False, f"token API answered HTTP {status}")
    deadline = time.monotonic() + 15
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = client.request("GET", "/healthz")
        health = json.loads(body)
        if any(w["alive"] for name, w in health.get("workers", {}).items() if name.startswith("outbox")):
            break
        time.sleep(0.3)
    else:
        return SmokeResult(False, f"no live outbox dispatcher in /healthz: {health}")
    if health.get("database") != "ok":
        return SmokeResult(False, f"/healthz database: {health.get('database')}")
    return SmokeResult(True, "login, role-checked page, token API and live outbox dispatcher")
