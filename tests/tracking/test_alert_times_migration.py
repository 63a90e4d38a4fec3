"""tracking_0008_alert_times_typed: alerts stored with a text time and "UTC" in the id are read in every language."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from alembic import command
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import column, insert, select, table

from core import notes
from core.db import make_engine
from migrations import alembic_config, upgrade

BEFORE = "tracking_0007_gateway_status"
MISSING = {"m": "%(asset)s (%(asset_tag)s) not heard since %(since)s UTC, last in %(zone)s",
           "v": {"asset": "Pump 7", "asset_tag": "A-7", "since": "2026-12-01 08:05", "zone": "ICU"}}  # fmt: skip
OVERDUE = {"m": "%(asset)s (%(serial)s) was due back at %(due)s UTC from %(holder)s %(holder_name)s; %(where)s",
           "v": {"asset": "Torque wrench", "serial": "TW-1", "due": "2026-12-02 16:30", "holder": "W0001",
                 "holder_name": "Ada",
                 "where": {"m": "%(where)s at %(at)s UTC",
                           "v": {"where": "heard in Bay 2", "at": "2026-12-02 17:45"}}}}  # fmt: skip
ODD = {"m": "%(asset)s (%(asset_tag)s) not heard since %(since)s UTC",
       "v": {"asset": "X", "asset_tag": "X", "since": "yesterday"}}  # fmt: skip
OTHER = {"m": "%(asset)s left %(zone)s", "v": {"asset": "Pump 7", "zone": "ICU"}}  # fmt: skip


def _line(note: Mapping[str, object]) -> str:
    return json.dumps(note, ensure_ascii=False, sort_keys=True)


def test_old_alert_messages_become_typed_and_read_in_german(empty_url: str, app: Flask) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    alerts = table("tracking_alert", *(column(n) for n in ("id", "kind", "subject", "message", "raised_at")))
    stored = {
        "missing": _line(MISSING),
        "overdue": _line(OVERDUE) + "\nplain words kept",
        "odd": _line(ODD),
        "other": _line(OTHER),
        "broken": '{"m": "%(asset)s (%(asset_tag)s) not heard since %(since)s UTC", "v": ',
    }
    with engine.begin() as conn:
        for kind, message in stored.items():
            conn.execute(insert(alerts).values(kind=kind[:20], subject=kind, message=message,
                                               raised_at=datetime(2026, 12, 3, tzinfo=UTC)))  # fmt: skip
    upgrade(empty_url)
    with engine.connect() as conn:
        after = dict(conn.execute(select(alerts.c.subject, alerts.c.message)).all())
    engine.dispose()

    missing = notes.Note.decode(after["missing"])
    assert missing.message == "%(asset)s (%(asset_tag)s) not heard since %(since)s, last in %(zone)s"
    assert notes.english(after["missing"]) == "Pump 7 (A-7) not heard since 2026-12-01 08:05 UTC, last in ICU"
    assert notes.english(after["overdue"]) == (
        "Torque wrench (TW-1) was due back at 2026-12-02 16:30 UTC from W0001 Ada; heard in Bay 2 at 2026-12-02 "
        "17:45 UTC\nplain words kept"
    )
    with app.test_request_context("/"), force_locale("de"):
        german = notes.shown(after["missing"])
        assert "Pump 7 (A-7)" in german and "01.12.2026" in german and "ICU" in german
        assert german != notes.english(after["missing"])  # read in German, no longer the English fallback
    # a value that is not such a time stays text; other messages and a broken line are left exactly as they were
    assert json.loads(after["odd"])["v"]["since"] == "yesterday" and "UTC" not in json.loads(after["odd"])["m"]
    assert after["other"] == stored["other"] and after["broken"] == stored["broken"]

    upgrade_back = make_engine(empty_url)  # downgrade restores the old ids and text times
    command.downgrade(alembic_config(empty_url), BEFORE)
    with upgrade_back.connect() as conn:
        restored = dict(conn.execute(select(alerts.c.subject, alerts.c.message)).all())
    upgrade_back.dispose()
    assert restored == {**stored, "odd": restored["odd"]}
    assert json.loads(restored["odd"]) == ODD
