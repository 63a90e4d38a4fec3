"""An edge's link to its central server: enrolment, configuration pulls, state reports, and stopping when revoked.

`enrol(url, code)` exchanges a one-time code for the edge's credential and keeps it in the instance folder
(`fleet.json`, mode 600). `FleetLink.step()` (run every `VENDTRACK_FLEET_POLL_SECONDS` by a worker) asks
`<central>/api/v1/fleet/config?since=<version>` with the last ETag (304: nothing changed), gzip-compressed,
applies the answer in one transaction (core.fleet_feed), then reports its version, backlog and devices.
A refused credential (revoked) stops the link: it says why in the log, on /healthz and in
`vendtrack edge status`, and pulls nothing more until the edge is enrolled again.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.fleet_feed import apply_feed, get_state, set_state
from core.forward import CONSUMER as FORWARD
from core.outbox import RETRY, OutboxDelivery

log = logging.getLogger(__name__)
IDENTITY_FILE = "fleet.json"
SOFTWARE_VERSION = "vendtrack 0.1"
API = "/api/v1/fleet"


class FleetLinkError(RuntimeError):
    """The central server could not be reached or refused: the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class EdgeIdentity:
    url: str
    token: str
    edge: str
    site_code: str
    machines: tuple[str, ...] = ()


def identity_path(instance_path: str | os.PathLike[str]) -> Path:
    return Path(instance_path) / IDENTITY_FILE


def load_identity(instance_path: str | os.PathLike[str]) -> EdgeIdentity | None:
    path = identity_path(instance_path)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return EdgeIdentity(data["url"], data["token"], data["edge"], data["site_code"], tuple(data.get("machines", ())))


def save_identity(instance_path: str | os.PathLike[str], identity: EdgeIdentity) -> Path:
    path = identity_path(instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(identity), handle)
    os.replace(tmp, path)
    return path


def _call(
    url: str, method: str, token: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept-Encoding", "gzip")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=15.0) as response:
            status, got, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, dict(exc.headers), exc.read()
    except (OSError, ValueError) as exc:
        raise FleetLinkError(f"central server {url} unreachable: {type(exc).__name__}: {exc}") from None
    if got.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return status, got, raw


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw[:300].decode("utf-8", "replace")


def enrol(url: str, code: str, software_version: str = SOFTWARE_VERSION) -> EdgeIdentity:
    """Exchange the one-time code at the central server `url` for this edge's credential."""
    base = url.rstrip("/")
    status, _headers, raw = _call(f"{base}{API}/enrol", "POST", code.strip(), {"software_version": software_version})
    if status != 200:
        raise FleetLinkError(f"the central server refused the enrolment (HTTP {status}): {_message(raw)}")
    data = json.loads(raw)
    return EdgeIdentity(base, data["token"], data["edge"], data["site_code"], tuple(data.get("machines", ())))


def hurry_forwarder(session: Session, now: datetime) -> int:
    """The central server answers again: events waiting for a retry are due now, not after their backoff."""
    result = session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.consumer == FORWARD, OutboxDelivery.status == RETRY)
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


StatusSource = Callable[[Session], dict[str, Any]]


class FleetLink:
    """Pulls configuration and reports state for one enrolled edge; safe to call `step` from one thread."""

    def __init__(self, factory: sessionmaker[Session], instance_path: str, status: StatusSource,
                 on_token: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.factory, self.instance_path, self.status = factory, instance_path, status
        self.on_token = on_token  # the forwarder takes a rotated credential too
        self.identity = load_identity(instance_path)
        self.etag = ""
        self.last_error = ""
        self.last_pull_at: datetime | None = None
        self._lock = threading.Lock()

    def state(self) -> dict[str, str]:
        with unit_of_work(self.factory) as session:
            return {k: get_state(session, k) for k in ("version", "stopped", "last_pull_at")}

    def stopped(self) -> str:
        with unit_of_work(self.factory) as session:
            return get_state(session, "stopped")

    def step(self, now: datetime | None = None) -> str:
        """One pull (until caught up) and one report; returns what happened ("applied N", "unchanged", ...)."""
        with self._lock:
            fresh = load_identity(self.instance_path)
            if fresh is not None and self.identity is not None and fresh.token != self.identity.token:
                self._stopped_clear()  # enrolled again, or rotated by `vendtrack edge rotate`
                if self.on_token is not None:
                    self.on_token(fresh.token)
            self.identity = fresh
            if self.identity is None:
                return "not enrolled"
            if reason := self.stopped():
                return f"stopped: {reason}"
            try:
                outcome = self._pull()
                self._report()
                if self.last_error:  # the link is back: the forwarder need not sit out its backoff
                    with unit_of_work(self.factory) as session:
                        hurry_forwarder(session, datetime.now(UTC))
                self.last_error = ""
                return outcome
            except FleetLinkError as exc:
                self.last_error = str(exc)
                log.warning("fleet link: %s", exc)
                return f"failed: {exc}"

    def _stopped_clear(self) -> None:
        with unit_of_work(self.factory) as session:
            set_state(session, "stopped", "")

    def _refused(self, status: int, raw: bytes) -> None:
        why = _message(raw)
        if self.identity is not None:
            try:
                _code, _got, answer = _call(f"{self.identity.url}{API}/standing", "GET", self.identity.token)
                why = str(json.loads(answer).get("reason") or why)
            except (FleetLinkError, ValueError):
                pass
        reason = f"the central server refused this edge's credential (HTTP {status}): {why}"
        reason += "; ask the central admin for a new enrolment code and run `vendtrack edge enrol URL CODE`"
        with unit_of_work(self.factory) as session:
            set_state(session, "stopped", reason)
        log.error("fleet link stopped: %s", reason)
        raise FleetLinkError(reason)

    def _pull(self) -> str:
        assert self.identity is not None
        applied = 0
        for _ in range(100):  # a long feed comes in pages
            with unit_of_work(self.factory) as session:
                since = int(get_state(session, "version", "0") or 0)
            headers = {"If-None-Match": f'"{self.etag}"'} if self.etag else {}
            url = f"{self.identity.url}{API}/config?since={since}"
            status, got, raw = _call(url, "GET", self.identity.token, headers=headers)
            if status in (401, 403):
                self._refused(status, raw)
            if status == 304:
                return f"unchanged at version {since}" if not applied else f"applied {applied}"
            if status != 200:
                raise FleetLinkError(f"central server answered HTTP {status} to {url}: {_message(raw)}")
            doc = json.loads(raw)
            with unit_of_work(self.factory) as session:
                result = apply_feed(session, doc)
                set_state(session, "last_pull_at", datetime.now().astimezone().isoformat())
            applied += result.upserts + result.deletes
            self.etag = "" if doc.get("more") else got.get("ETag", "").strip('"')
            if not doc.get("more"):
                return f"applied {applied} up to version {doc['version']}"
        return f"applied {applied}, more to come"

    def _report(self) -> None:
        assert self.identity is not None
        with unit_of_work(self.factory) as session:
            body = self.status(session)
            body["config_version"] = int(get_state(session, "version", "0") or 0)
        status, _got, raw = _call(f"{self.identity.url}{API}/status", "POST", self.identity.token, body)
        if status in (401, 403):
            self._refused(status, raw)
        if status != 200:
            raise FleetLinkError(f"central server answered HTTP {status} to the status report: {_message(raw)}")

    def rotate(self) -> EdgeIdentity:
        """Ask for a new credential; the old one stops working at once, so keep the new one before anything else."""
        with self._lock:
            identity = self.identity or load_identity(self.instance_path)
            if identity is None:
                raise FleetLinkError("this edge is not enrolled: run `vendtrack edge enrol URL CODE` first")
            status, _got, raw = _call(f"{identity.url}{API}/rotate", "POST", identity.token, {})
            if status != 200:
                raise FleetLinkError(f"the central server refused the rotation (HTTP {status}): {_message(raw)}")
            fresh = EdgeIdentity(identity.url, json.loads(raw)["token"], identity.edge, identity.site_code,
                                 identity.machines)  # fmt: skip
            save_identity(self.instance_path, fresh)
            self.identity = fresh
            if self.on_token is not None:
                self.on_token(fresh.token)
            return fresh
