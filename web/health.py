"""/healthz: database reachable, outbox backlog and dead letters, background worker liveness."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select, text

from core import access
from core.clock import utc
from core.forward import CONSUMER as FORWARD
from core.outbox import WorkerHeartbeat, backlog, consumer_backlogs, dead_letter_count
from web.session import db, services

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@access.public
def healthz() -> Any:
    report: dict[str, Any] = {"status": "ok"}
    try:
        db().execute(text("SELECT 1"))
        report["database"] = "ok"
    except Exception as exc:
        report.update(status="failing", database=f"unreachable: {type(exc).__name__}")
        return jsonify(report), 503
    session = db()
    report["outbox"] = {"backlog": backlog(session, services().consumers), "dead_letters": dead_letter_count(session)}
    upstream = services().settings.upstream_url
    if upstream:  # an edge: how much it still has to forward, since when, and why
        state = next(b for b in consumer_backlogs(session, services().consumers) if b.consumer == FORWARD)
        report["upstream"] = {
            "url": upstream,
            "waiting": state.waiting,
            "oldest": state.oldest.isoformat() if state.oldest else None,
            "last_error": state.last_error,
        }
        if state.last_error:
            report["status"] = "degraded"
    now = services().clock.now()
    workers = {}
    for row in session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.name)):
        age = (now - utc(row.beat_at)).total_seconds()
        alive = age <= max(3 * row.interval_seconds, 15)
        workers[row.name] = {"alive": alive, "seconds_since_beat": round(age, 1), "info": row.info}
        if not alive:
            report["status"] = "degraded"
    report["workers"] = workers
    if report["outbox"]["dead_letters"]:
        report["status"] = "degraded"
    return jsonify(report), 200
