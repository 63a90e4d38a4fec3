"""`vendtrack demo --smoke` vending flow: a dispense on each kind of machine through the kiosk API over HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from sqlalchemy import func, select

from core.db import unit_of_work
from core.outbox import OutboxEvent
from core.runtime import DemoContext, SmokeResult
from vending.demo import CABINET, COIL, LOCKER, SHELF, badge_of
from vending.models import Dispense, LedgerEntry


class _Client:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def send(self, method: str, path: str, form: dict[str, str] | None = None, body: Any = None) -> tuple[int, str]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, username: str, password: str) -> None:
        _, page = self.send("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError("login page has no CSRF field")
        status, _ = self.send(
            "POST", "/login", form={"username": username, "password": password, "csrf_token": token.group(1)}
        )
        if status != 200:
            raise RuntimeError(f"login as {username} answered HTTP {status}")


def _kiosk_dispense(client: _Client, machine: str, worker: int, slot: str) -> dict[str, Any]:
    status, page = client.send("GET", f"/kiosk/{machine}")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    if status != 200 or match is None:
        raise RuntimeError(f"kiosk page of {machine} answered HTTP {status}")
    client.csrf = match.group(1)
    api = f"/api/v1/vending/kiosk/{machine}"
    status, text = client.send("POST", api + "/badge", body={"badge": badge_of(worker)})
    if status != 200:
        raise RuntimeError(f"badge-in at {machine}: HTTP {status} {text}")
    status, text = client.send(
        "POST", api + "/dispense", body={"slot": slot, "quantity": 1, "charge_codes": {"cost_center": "CC-100"}}
    )
    result: dict[str, Any] = json.loads(text).get("dispense", {})
    deadline = time.monotonic() + 20
    while result.get("status") not in ("completed", "failed", "refused") and time.monotonic() < deadline:
        time.sleep(0.1)
        _, text = client.send("GET", f"{api}/dispense/{result['id']}")
        result = json.loads(text)["dispense"]
    client.send("POST", api + "/logout", body={})
    return result


def smoke(demo: DemoContext) -> SmokeResult:
    client = _Client(demo.base_url)
    client.login("restocker", "fill-the-bins")
    done = []
    for number, (machine, _name, slots) in ((1, LOCKER), (2, COIL), (3, SHELF), (4, CABINET)):
        result = _kiosk_dispense(client, machine, number, slots[0][0])
        if result.get("status") != "completed" or result.get("taken", 0) < 1:
            return SmokeResult(False, f"{machine}: dispense ended {result.get('status')}: {result.get('detail')}")
        done.append(int(result["id"]))
    with unit_of_work(demo.services.session_factory) as session:
        issues = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.dispense_id.in_(done), LedgerEntry.kind == "issue")
        )
        payloads = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == "vending.item_dispensed")
        ).all()
        machines = {json.loads(p)["data"]["machine"] for p in payloads}
        events = len(machines & {LOCKER[0], COIL[0], SHELF[0], CABINET[0]})
        statuses = set(session.scalars(select(Dispense.status).where(Dispense.id.in_(done))))
    if issues != 4 or statuses != {"completed"} or events != 4:
        return SmokeResult(
            False, f"ledger issues {issues}, ItemDispensed events from {events} of the 4 machines, statuses {statuses}"
        )
    return SmokeResult(
        True,
        "badge-in and dispense on the Kerong locker, the coil machine, the scale shelf and the XOR-board cabinet; "
        "4 ledger issues and ItemDispensed events",
    )
