"""What an enrolled edge reports to the central server about itself: backlog, oldest waiting event, machines' health."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.fleet_edge import SOFTWARE_VERSION
from core.forward import CONSUMER
from core.outbox import consumer_backlogs
from core.runtime import AppServices
from core.states import shown_as_labels
from vending.models import Machine, Slot

shown_as_labels({"attention": "Needs attention"})  # a device's state on the fleet page ("ok" is a slot's "In service")


def edge_report(session: Session, services: AppServices) -> dict[str, Any]:
    """What an edge tells the central server about itself: backlog, oldest waiting event, machines' health."""
    forward = next((b for b in consumer_backlogs(session, services.consumers) if b.consumer == CONSUMER), None)
    devices = []
    rows = session.execute(
        select(Machine.code, Slot.state, func.count()).join(Slot, Slot.machine_id == Machine.id, isouter=True)
        .group_by(Machine.code, Slot.state).order_by(Machine.code)
    )  # fmt: skip
    per: dict[str, dict[str, int]] = {}
    for code, state, count in rows:
        per.setdefault(code, {})[state or "ok"] = int(count)
    for code, states in per.items():
        bad = {s: n for s, n in states.items() if s != "ok"}
        devices.append({"machine": code, "state": "attention" if bad else "ok",
                        "detail": ", ".join(f"{n} {s}" for s, n in sorted(bad.items()))})  # fmt: skip
    return {
        "software_version": SOFTWARE_VERSION,
        "backlog": forward.waiting if forward else 0,
        "oldest_waiting": forward.oldest.isoformat() if forward and forward.oldest else None,
        "last_error": forward.last_error if forward else "",
        "devices": devices,
    }
