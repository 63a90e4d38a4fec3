"""/healthz (database, outbox backlog and dead letters, workers and ingesters) and the admin page of the ingesters.

Workers and ingesters are read from the heartbeat table, so every process reports on every process:
`degraded` when one is dead, restarting, cut off from its peer, or (an ingester) silent past its limit;
a process gone for `VENDTRACK_HEARTBEAT_EXPIRE_INTERVALS` intervals, or replaced by a restart, no longer
counts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from core import access
from core.forward import CONSUMER as FORWARD
from core.heartbeats import WorkerHealth, WorkerKind, assess
from core.outbox import backlog, consumer_backlogs, dead_letter_count
from core.roles import Role
from web.domains import hook
from web.session import db, services

bp = Blueprint("health", __name__)


def _worker_json(item: WorkerHealth) -> dict[str, Any]:
    return {
        "role": item.role,
        "process": item.process,
        "alive": item.alive,
        "state": item.state,
        "verdict": item.verdict.value,
        "seconds_since_beat": item.seconds_since_beat,
        "info": item.info,
        "last_error": item.last_error,
    }


def _ingester_json(item: WorkerHealth) -> dict[str, Any]:
    counters = item.counters
    return _worker_json(item) | {
        "last_message_ago_s": item.last_activity_ago_s,
        "accepted": counters.get("accepted", 0),
        "rejected": {k.removeprefix("rejected:"): v for k, v in counters.items() if k.startswith("rejected:")},
        "errors": {k.removeprefix("error:"): v for k, v in counters.items() if k.startswith("error:")},
        "restarts": counters.get("restarts", 0),
    }


def worker_health() -> list[WorkerHealth]:
    settings = services().settings
    return assess(db(), services().clock.now(), settings.heartbeat_expire_intervals)


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
    found = worker_health()
    report["workers"] = {w.name: _worker_json(w) for w in found if w.kind == WorkerKind.WORKER}
    report["ingesters"] = {w.name: _ingester_json(w) for w in found if w.kind == WorkerKind.INGESTER}
    problems = [f"{w.name}: {w.verdict.value}" for w in found if w.degrading]
    if problems:
        report["status"] = "degraded"
        report["problems"] = problems
    for plugin in current_app.extensions.get("vendtrack_plugins", []):  # e.g. the fleet's edges (web.fleet_plugin)
        if (extend := hook(plugin, "health")) is not None:
            for name, part in extend(session, services()).items():
                report[name] = part
                if part.get("alerts"):
                    report["status"] = "degraded"
    if report["outbox"]["dead_letters"]:
        report["status"] = "degraded"
    return jsonify(report), 200


@bp.route("/admin/ingest")
@access.roles(Role.ADMIN)
def ingest_page() -> str:
    found = worker_health()
    settings = services().settings
    return render_template(
        "admin/ingest.html",
        ingesters=[(w, _ingester_json(w)) for w in found if w.kind == WorkerKind.INGESTER],
        workers=[w for w in found if w.kind == WorkerKind.WORKER],
        expire_s=settings.heartbeat_expire_intervals * settings.heartbeat_seconds,
    )
