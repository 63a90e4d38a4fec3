"""The "Tools out" page: every tagged tool in custody with its holder and room, and the shift-end report by room."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from core import access
from core.validation import Text, one
from tracking import custody
from tracking.views import STAFF, _db, _now, ago

bp = Blueprint("tracking_custody", __name__, url_prefix="/tracking/custody", template_folder="templates")
HOLDER = Text(max_length=64)


@bp.get("/")
@access.roles(*STAFF)
def tools_out() -> Any:
    """Tools still out grouped by the room their tag is in (the shift-end report); ?holder=W003 for one worker."""
    session, now = _db(), _now()
    holder = one(HOLDER, "holder", request.args.get("holder")) or None
    views = custody.custody_views(session, open_only=True, holder=holder)
    if request.args.get("format") == "csv":
        return _csv(views, now)
    return render_template("tracking/custody.html", by_room=custody.out_by_zone(views), count=len(views),
                           holder=holder, now=now, ago=ago)  # fmt: skip


def _csv(views: list[custody.CustodyView], now: Any) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["room", "serial", "tool", "holder", "holder_name", "machine", "charge_code", "out_at", "due_at",
                     "overdue", "fod_over_limit", "last_seen_at"])  # fmt: skip
    for room, rows in custody.out_by_zone(views).items():
        for v in rows:
            writer.writerow([room, v.serial, v.asset_name, v.holder, v.holder_name, v.machine, v.charge_code,
                             v.out_at.isoformat(), v.due_at.isoformat(), "yes" if v.overdue(now) else "no",
                             "yes" if v.fod_over(now) else "no",
                             v.last_seen_at.isoformat() if v.last_seen_at else ""])  # fmt: skip
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=tools-out.csv"})  # fmt: skip
