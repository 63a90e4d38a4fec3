"""The kiosk's event stream: GET /api/v1/vending/kiosk/<machine>/events, server-sent events pushed to the screen.

Events: `badge` ({"badge": raw}: a serial reader's read, delivered to one screen) and `dispense` ({"id", "phase",
"status"?}: hardware progress and the outcome). They come from vending.kiosk_state through core.push, so the
stream may be held by any serving process. An idle stream costs no request: a comment every KEEPALIVE_S keeps
proxies from closing it, and it ends after STREAM_FOR_S so the browser reconnects and is authorised again (a
revoked kiosk token stops there). The request's database session is closed before streaming starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, g

from core import push
from core.db import unit_of_work
from core.runtime import AppServices
from vending import kiosk_state
from vending.kiosk_api import api_bp
from vending.kiosk_common import KIOSK, active_machine, app_services, kiosk_db, kiosk_now

KEEPALIVE_S = 25.0
STREAM_FOR_S = 300.0
RETRY_MS = 2000  # how soon the browser reconnects a dropped stream


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _badge(services: AppServices, machine_code: str) -> str | None:
    with unit_of_work(services.session_factory) as session:
        raw = kiosk_state.take_badge(session, machine_code, services.clock.now())
    return _event("badge", {"badge": raw}) if raw else None


def stream(
    services: AppServices, sub: push.Subscription, machine_code: str, lasting: float, token_id: int | None = None
) -> Iterator[str]:
    """The stream's text: a read waiting from before it opened, then each notice, keep-alives in between; it ends
    when the kiosk's token is revoked (the browser reconnects, is refused, and the page says why)."""
    try:
        yield f"retry: {RETRY_MS}\n\n"
        if (waiting := _badge(services, machine_code)) is not None:
            yield waiting
        deadline = time.monotonic() + lasting
        while (left := deadline - time.monotonic()) > 0:
            notice = sub.get(min(KEEPALIVE_S, left))
            if notice is None:
                yield ": keep-alive\n\n"
            elif notice.data.get("kind") == "badge":
                if (read := _badge(services, machine_code)) is not None:
                    yield read
            elif notice.data.get("kind") == "dispense":
                yield _event("dispense", notice.data)
            elif notice.channel == push.REVOKED and token_id is not None and notice.data.get("token") == token_id:
                return
    finally:
        sub.close()


@api_bp.route("/<machine_code>/events")
@KIOSK
def events(machine_code: str) -> Any:
    g.session_read_only = True  # a long response must never write back a session cookie
    db = kiosk_db()
    machine = active_machine(db, machine_code)
    kiosk_state.screen_seen(db, machine.code, kiosk_now())
    db.commit()
    db.close()  # no connection is held while the stream waits
    services = app_services()
    sub = push.hub_for(services).subscribe({kiosk_state.channel(machine.code), push.REVOKED})
    token_id = g.principal.id if g.principal.kind == "token" else None
    response = Response(stream(services, sub, machine.code, STREAM_FOR_S, token_id), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
