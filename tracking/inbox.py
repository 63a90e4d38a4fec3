"""Gateway HTTP uploads handed from the web processes to the location engine through the database.

`put` is what an upload endpoint does once the body is parsed and checked: one row per batch, in the request's
transaction. `take` runs at the start of every engine flush (tracking.pipeline): it claims the waiting rows in
arrival order (SKIP LOCKED on PostgreSQL, so two engines never take the same batch), deletes them and hands their
observations and heartbeats to the engine. One path whatever the process layout: the demo's single process and
`vendtrack serve`'s web-per-core processes both land a batch here, and only the process that owns the engine
decides rooms from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from core.prepared import FastWork, Prepared
from tracking.models import GatewayInbox
from tracking.observation import Observation

TAKE_LIMIT = 500  # batches per flush: a backlog is worked off over several flushes, none of them long
HEARTBEAT = {True: "online", False: "offline", None: ""}
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # built once: json.dumps with separators builds one a call
# Compiled once (core.prepared): every gateway upload runs it, on the request's own one-statement unit of work.
_PUT = Prepared(
    insert(GatewayInbox).values(
        gateway_id=bindparam("gateway_id"), received_at=bindparam("received_at"), heartbeat=bindparam("heartbeat"),
        count=bindparam("count"), observations=bindparam("observations"),
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Taken:
    observations: list[Observation]
    heartbeats: list[tuple[str, bool]]  # (gateway_id, online) in arrival order
    batches: int


def put(
    session: Session | FastWork,
    gateway_id: str,
    observations: Iterable[Observation],
    heartbeat: bool | None,
    now: datetime,
) -> int:
    """Queue one accepted upload for the engine; returns how many observations it carries."""
    rows = observations if isinstance(observations, list) else list(observations)
    if not rows and heartbeat is None:
        return 0
    # one prepared INSERT (no ORM object to flush): gateways upload every second or so, each to a web process;
    # an Observation is a tuple, so it is written as the JSON array `take` reads back
    values = {"gateway_id": gateway_id, "received_at": now, "heartbeat": HEARTBEAT[heartbeat], "count": len(rows),
              "observations": _ENCODE(rows)}  # fmt: skip
    FastWork.of(session).execute(_PUT, values).close()
    return len(rows)


def take(session: Session, limit: int = TAKE_LIMIT) -> Taken:
    """Claim and delete the oldest waiting batches (at most `limit`); the caller's commit makes it final."""
    query = select(GatewayInbox.id, GatewayInbox.gateway_id, GatewayInbox.heartbeat, GatewayInbox.observations)
    query = query.order_by(GatewayInbox.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return Taken([], [], 0)
    session.execute(delete(GatewayInbox).where(GatewayInbox.id.in_([r.id for r in rows])))
    observations: list[Observation] = []
    heartbeats: list[tuple[str, bool]] = []
    for row in rows:
        if row.heartbeat:
            heartbeats.append((row.gateway_id, row.heartbeat == "online"))
        observations.extend(Observation(*fields) for fields in json.loads(row.observations))
    return Taken(observations, heartbeats, len(rows))


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many uploads wait for the engine, and since when the oldest (for /healthz)."""
    count, oldest = session.execute(select(func.count(), func.min(GatewayInbox.received_at))).one()
    return int(count), oldest
