"""stored alert messages written with a time as text and the word "UTC" become the typed notes written today

Before tracking_0008, the missing-asset and overdue-tool alerts stored their times as text in UTC inside message
ids that said "UTC" ("... not heard since %(since)s UTC"). Those ids left the catalogue when the times became
typed values (core.note_values: shown in the reader's language and the site's zone), so an alert raised before
then was shown in English on every page. This rewrites each such stored message to today's id with its time
typed ({"t": "...Z"}); a value that is not such a time is left as it was (shown as text). The audit log keeps what
it recorded. Downgrade writes the old ids and text times back.

Revision ID: tracking_0008_alert_times_typed
Revises: tracking_0007_gateway_status
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "tracking_0008_alert_times_typed"
down_revision = "tracking_0007_gateway_status"
branch_labels = None
depends_on = None

# old message id -> (today's id, the value holding a time); written out, not imported: a migration keeps the
# messages it was written with
RENAMED = {
    "%(asset)s (%(asset_tag)s) not heard since %(since)s UTC, last in %(zone)s": (
        "%(asset)s (%(asset_tag)s) not heard since %(since)s, last in %(zone)s",
        "since",
    ),
    "%(asset)s (%(asset_tag)s) not heard since %(since)s UTC": (
        "%(asset)s (%(asset_tag)s) not heard since %(since)s",
        "since",
    ),
    "%(asset)s (%(serial)s) was due back at %(due)s UTC from %(holder)s %(holder_name)s; %(where)s": (
        "%(asset)s (%(serial)s) was due back at %(due)s from %(holder)s %(holder_name)s; %(where)s",
        "due",
    ),
    "%(where)s at %(at)s UTC": ("%(where)s at %(at)s", "at"),
}
BACK = {new: (old, name) for old, (new, name) in RENAMED.items()}
OLD_TIME = "%Y-%m-%d %H:%M"  # how those messages wrote a time (UTC)
alerts = sa.table("tracking_alert", sa.column("id", sa.Integer), sa.column("message", sa.Text))


def _typed(value: Any) -> Any:
    try:
        at = datetime.strptime(value, OLD_TIME) if isinstance(value, str) else None
    except ValueError:
        at = None
    return {"t": f"{at:%Y-%m-%dT%H:%M:%S}Z"} if at is not None else value


def _text(value: Any) -> Any:
    stamp = value.get("t") if isinstance(value, dict) else None
    try:
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") if isinstance(stamp, str) else None
    except ValueError:
        at = None
    return f"{at:{OLD_TIME}}" if at is not None else value


def _rewrite(note: Any, table: dict[str, tuple[str, str]], convert: Any) -> Any:
    """The note (a stored JSON object) with its message id and time value rewritten, nested notes too."""
    if not isinstance(note, dict) or not isinstance(note.get("m"), str):
        return note
    stored = note.get("v")
    given = stored if isinstance(stored, dict) else {}
    values = {name: _rewrite(value, table, convert) for name, value in given.items()}
    found = table.get(note["m"])
    if found is None:
        return {**note, "v": values} if "v" in note else note
    message, time_name = found
    if time_name in values:
        values[time_name] = convert(values[time_name])
    return {**note, "m": message, "v": values}


def _line(line: str, table: dict[str, tuple[str, str]], convert: Any) -> str:
    if not line.startswith("{"):
        return line
    try:
        note = json.loads(line)
    except ValueError:
        return line
    changed = _rewrite(note, table, convert)
    return line if changed == note else json.dumps(changed, ensure_ascii=False, sort_keys=True)


def _migrate(table: dict[str, tuple[str, str]], convert: Any) -> None:
    bind = op.get_bind()
    wanted = sa.or_(*(alerts.c.message.contains(message, autoescape=True) for message in table))
    for row_id, message in bind.execute(sa.select(alerts.c.id, alerts.c.message).where(wanted)).all():
        rewritten = "\n".join(_line(line, table, convert) for line in message.split("\n"))
        if rewritten != message:
            bind.execute(alerts.update().where(alerts.c.id == row_id).values(message=rewritten))


def upgrade() -> None:
    _migrate(RENAMED, _typed)


def downgrade() -> None:
    _migrate(BACK, _text)
