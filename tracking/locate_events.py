"""Push to the locate page: what the engine and status changes announce, and the text of the page's event stream.

The stream is GET /api/v1/tracking/events (tracking.api): a server-sent `assets` event when equipment moves.

The location engine's flush (`recording.apply_room_changes`) and a status change (`services.change_status`)
call `announce` inside their transaction; core.push delivers the notice at commit to every serving process
(PostgreSQL NOTIFY, or SQLite's polled notice table), so the stream may be held by any web process while the
engine runs in the workers process. A notice is a wake-up ({"kind": "moved"|"status", "ids": [...]}): the page
reads the map again. An idle stream costs no request: a comment every KEEPALIVE_S keeps proxies from closing
it, and it ends after STREAM_FOR_S so the browser reconnects and is authorised again. The request's database
session is closed before streaming starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from core import push

CHANNEL = "tracking:assets"
MAX_IDS = 200  # more moves in one flush are announced without ids (the page reads the map again either way)
KEEPALIVE_S = 25.0
STREAM_FOR_S = 300.0
RETRY_MS = 2000


def announce(session: Any, kind: str, asset_ids: Iterable[int], now: datetime) -> None:
    """Tell open locate pages that these assets moved or changed status, when the caller's transaction commits."""
    ids = sorted(set(asset_ids))
    if ids:
        push.publish(session, CHANNEL, {"kind": kind, "ids": ids if len(ids) <= MAX_IDS else []}, now)


def stream(sub: push.Subscription, lasting: float) -> Iterator[str]:
    """The stream's text: `assets` events as notices arrive, keep-alive comments in between."""
    try:
        yield f"retry: {RETRY_MS}\n\n: open\n\n"
        deadline = time.monotonic() + lasting
        while (left := deadline - time.monotonic()) > 0:
            notice = sub.get(min(KEEPALIVE_S, left))
            if notice is None:
                yield ": keep-alive\n\n"
            elif notice.channel == CHANNEL:
                yield f"event: assets\ndata: {json.dumps(notice.data, separators=(',', ':'))}\n\n"
    finally:
        sub.close()
