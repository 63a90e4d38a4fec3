"""The central fleet page's edge alerts (silent, backlog waiting, configuration behind) are notes: English in the
health JSON and the CLI, the reader's language on the page, the backlog's time in the site's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select

from core import fleet_central
from core.db import unit_of_work
from core.models import Site

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


def test_edge_alerts_read_in_english_and_in_german(app: Flask) -> None:
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as s:
        s.add(Site(code="PA", name="Plant A"))
        s.flush()
        edge, code = fleet_central.create_edge(s, "edge-a", "PA", "VM-A", "test", NOW - timedelta(hours=2))
        fleet_central.enrol(s, code, "1.0", NOW - timedelta(hours=2))
        oldest = (NOW - timedelta(minutes=50)).isoformat()
        fleet_central.record_status(s, edge, {"config_version": 0, "backlog": 15660, "oldest_waiting": oldest},
                                    NOW - timedelta(minutes=40))  # fmt: skip
    with unit_of_work(factory) as s:
        _version, (view,) = fleet_central.overview(s, NOW, silent_after=120, behind_after=300)
        assert s.scalar(select(Site.timezone)) == "UTC"
    english = [str(a) for a in view.alerts]
    assert english == ["silent for 2400 s", "15660 events waiting since 2026-12-07 13:10 UTC"], english
    with app.test_request_context("/"), force_locale("de"):
        german = [a.shown() for a in view.alerts]
    assert german == ["seit 2400 s still", "15660 Ereignisse warten seit 07.12.2026 13:10 UTC"], german
