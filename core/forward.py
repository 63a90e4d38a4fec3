"""Store and forward: an edge's events go to its upstream vendtrack over HTTP, in order, retried until it answers.

A machine-side installation (an edge) keeps dispensing when the network or the central server is down:
everything it does is in its own database and outbox. With VENDTRACK_UPSTREAM_URL set, the outbox consumer
`core.forward` posts each shop-floor fact of the edge's site (`core.event_scope.EDGE_EVENTS`) to
`<upstream>/api/v1/events` with the edge's EDGE token, bound upstream to this edge's site, strictly in
order and never giving up; the waiting events are the visible backlog (/healthz, /admin/outbox). The
upstream stores each event once, by its event id, so a resend after a lost answer changes nothing.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from core.event_scope import EDGE_EVENTS
from core.events import Event
from core.outbox import ConsumerRegistry

CONSUMER = "core.forward"
EVENTS_PATH = "/api/v1/events"


class UpstreamError(RuntimeError):
    """The upstream did not take the event; the message says what it answered and what to check."""


class UpstreamClient:
    """One kept-alive HTTP(S) connection to the upstream, reopened after any failure."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream URL {base_url!r} is not http(s)://host[:port]")
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout
        self._parts = parts
        self._path = parts.path.rstrip("/") + EVENTS_PATH
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._connection = kind(self._parts.hostname or "", self._parts.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def send(self, evt: Event) -> str:
        """POST one event; returns "accepted" or "duplicate", raises UpstreamError otherwise."""
        body = evt.to_json().encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        with self._lock:
            try:
                connection = self._connect()
                connection.request("POST", self._path, body=body, headers=headers)
                response = connection.getresponse()
                status, text = response.status, response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                if self._connection is not None:
                    self._connection.close()
                self._connection = None
                raise UpstreamError(f"upstream {self.base_url} unreachable: {type(exc).__name__}: {exc}") from None
        if status in (200, 201):
            return str(json.loads(text).get("status", "accepted"))
        if status in (401, 403):
            raise UpstreamError(
                f"upstream {self.base_url} refused the token (HTTP {status}): {_message(text)}; "
                "issue an edge token for this edge's site there and set VENDTRACK_UPSTREAM_TOKEN"
            )
        raise UpstreamError(f"upstream {self.base_url} answered HTTP {status}: {text[:300]}")


def _message(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return text[:300]


def register_forwarder(registry: ConsumerRegistry, base_url: str, token: str) -> UpstreamClient:
    """Forward the edge's site facts to the upstream, in order and without ever giving up.

    Only EDGE_EVENTS: the upstream refuses any other type from an edge token, and a refused event would hold
    the ordered queue behind it forever."""
    client = UpstreamClient(base_url, token)

    def forward(_session: Session, evt: Event) -> None:
        client.send(evt)

    registry.register(CONSUMER, sorted(EDGE_EVENTS), forward, ordered=True, retry_forever=True)
    return client
