"""The central server's side of a fleet: edges and their enrolment, credentials, reports, facts and alerts.

An admin creates an edge (site, machines) and gets a one-time enrolment code (shown once, stored as its
SHA-256, valid `ENROL_VALID`); the edge exchanges it for an EDGE-scope API token bound to its site (stored
hashed by core.users), which it uses to pull configuration, report its state and forward its facts.
Revoking the edge revokes the token; rotating issues a new one and revokes the old. Each forwarded fact is
kept once by event id (`record_fact`), so the central ledger is the sum of the edges' facts.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import utc
from core.errors import DomainError, Forbidden, NotFound
from core.events import Event
from core.fleet_feed import current_version
from core.fleet_models import FleetEdge, FleetFact
from core.models import ApiToken, Site
from core.notes import N_, Note
from core.roles import TokenScope
from core.texts import gettext
from core.users import create_token, hash_token, revoke_token

ENROL_VALID = timedelta(hours=24)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: it is read off a screen and typed


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def create_edge(
    session: Session, name: str, site_code: str, machines: str, actor: str, now: datetime
) -> tuple[FleetEdge, str]:
    """A new edge of `site_code` and its one-time enrolment code (the plain code is returned once)."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise DomainError(gettext("name the edge (1 to 64 characters), e.g. plant2-crib"), field="name")
    site = session.scalar(select(Site).where(Site.code == site_code.strip()))
    if site is None:
        raise DomainError(
            gettext("no site %(site_code)s: create it on the sites page first", site_code=repr(site_code)), field="site"
        )
    if session.scalar(select(FleetEdge.id).where(FleetEdge.name == name)) is not None:
        raise DomainError(gettext("an edge named %(name)s exists: choose another name", name=repr(name)), field="name")
    code = new_code()
    edge = FleetEdge(
        name=name, site_id=site.id, machines=",".join(m.strip() for m in machines.split(",") if m.strip()),
        enrol_code_hash=_hash(code), enrol_expires_at=now + ENROL_VALID, created_at=now, revoked_reason="",
    )  # fmt: skip
    session.add(edge)
    session.flush()
    audit.record(session, actor, "fleet.edge_create", "fleet_edge", edge.id, after={"name": name, "site": site.code})
    return edge, code


def new_enrolment_code(session: Session, edge_id: int, actor: str, now: datetime) -> str:
    """A fresh one-time code for an existing edge (lost code, or re-enrolling a replaced edge computer)."""
    edge = _edge(session, edge_id)
    code = new_code()
    edge.enrol_code_hash, edge.enrol_expires_at = _hash(code), now + ENROL_VALID
    audit.record(session, actor, "fleet.enrol_code", "fleet_edge", edge.id)
    return code


@dataclass(frozen=True, slots=True)
class Enrolled:
    edge: str
    site_code: str
    token: str
    machines: tuple[str, ...]


def enrol(session: Session, code: str, software_version: str, now: datetime) -> Enrolled:
    """Exchange a one-time code for the edge's credential; the code is spent, a previous credential revoked."""
    edge = session.scalar(
        select(FleetEdge).where(FleetEdge.enrol_code_hash == _hash(code), FleetEdge.enrol_code_hash != "")
    )
    if edge is None or edge.enrol_expires_at is None or utc(edge.enrol_expires_at) < now:
        raise Forbidden(gettext("this enrolment code is unknown, used or expired: ask the central admin for a new one"),
                        field="code", code="enrol_code_invalid")  # fmt: skip
    if edge.token_id is not None:
        revoke_token(session, edge.token_id, f"edge:{edge.name}")
    plain, token = create_token(session, f"edge {edge.name}", [TokenScope.EDGE], edge.site_id, f"edge:{edge.name}")
    edge.token_id, edge.enrol_code_hash, edge.enrol_expires_at = token.id, "", None
    edge.enrolled_at, edge.revoked_at, edge.revoked_reason = now, None, ""
    edge.software_version = software_version[:64]
    site_code = session.scalar(select(Site.code).where(Site.id == edge.site_id)) or ""
    audit.record(session, f"edge:{edge.name}", "fleet.edge_enrol", "fleet_edge", edge.id)
    machines = tuple(m for m in edge.machines.split(",") if m)
    return Enrolled(edge.name, site_code, plain, machines)


def edge_of_token(session: Session, token_id: int) -> FleetEdge:
    edge = session.scalar(select(FleetEdge).where(FleetEdge.token_id == token_id))
    if edge is None:
        raise NotFound(
            gettext("this token belongs to no enrolled edge: enrol with `vendtrack edge enrol`"), field="token"
        )
    if edge.revoked_at is not None:
        raise Forbidden(
            gettext(
                "edge %(name)s was revoked: %(revoked_reason)s", name=edge.name, revoked_reason=edge.revoked_reason
            ),
            field="token",
            code="edge_revoked",
        )
    return edge


def rotate(session: Session, edge: FleetEdge, now: datetime) -> str:
    """A new credential for the edge; the one it used is revoked in the same transaction."""
    old = edge.token_id
    plain, token = create_token(session, f"edge {edge.name}", [TokenScope.EDGE], edge.site_id, f"edge:{edge.name}")
    edge.token_id = token.id
    if old is not None:
        revoke_token(session, old, f"edge:{edge.name}")
    audit.record(session, f"edge:{edge.name}", "fleet.edge_rotate", "fleet_edge", edge.id)
    return plain


def revoke(session: Session, edge_id: int, reason: str, actor: str, now: datetime) -> FleetEdge:
    edge = _edge(session, edge_id)
    reason = reason.strip()[:300] or "revoked by an admin"
    edge.revoked_at, edge.revoked_reason, edge.enrol_code_hash = now, reason, ""
    if edge.token_id is not None:
        revoke_token(session, edge.token_id, actor)
    audit.record(session, actor, "fleet.edge_revoke", "fleet_edge", edge.id, after={"reason": reason})
    return edge


def _edge(session: Session, edge_id: int) -> FleetEdge:
    edge = session.get(FleetEdge, edge_id)
    if edge is None:
        raise NotFound(gettext("no edge %(edge_id)s: see the fleet page", edge_id=edge_id), field="edge")
    return edge


def record_status(session: Session, edge: FleetEdge, report: dict[str, Any], now: datetime) -> None:
    """What the edge says about itself: the version it runs, its backlog, its devices."""
    edge.last_contact_at = now
    edge.config_version = int(report.get("config_version", edge.config_version))
    edge.software_version = str(report.get("software_version", ""))[:64]
    edge.backlog = int(report.get("backlog", 0))
    oldest = report.get("oldest_waiting")
    edge.oldest_waiting_at = utc(datetime.fromisoformat(oldest)) if oldest else None
    edge.last_error = str(report.get("last_error", ""))[:2000]
    edge.devices = json.dumps(report.get("devices", []))[:20000]


def record_fact(session: Session, evt: Event, now: datetime) -> None:
    """Keep one forwarded fact (the outbox already delivers each event once; the unique key is the last guard)."""
    if session.scalar(select(FleetFact.id).where(FleetFact.event_key == evt.event_id)) is not None:
        return
    session.add(
        FleetFact(
            event_key=evt.event_id,
            event_type=evt.event_type,
            site_code=str(getattr(evt, "site_code", ""))[:32],
            machine=str(getattr(evt, "machine", ""))[:32],
            slot=str(getattr(evt, "slot", ""))[:16],
            sku=str(getattr(evt, "sku", "") or "")[:64],
            worker=str(getattr(evt, "worker", ""))[:64],
            quantity=int(getattr(evt, "quantity", 0) or 0),
            on_hand=getattr(evt, "on_hand", None),
            occurred_at=evt.occurred_at,
            received_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class EdgeView:
    id: int
    name: str
    site_code: str
    machines: str
    enrolled: bool
    revoked: str  # the reason, "" while active
    last_contact_at: datetime | None
    silent_s: float | None
    config_version: int
    lag: int  # versions behind the central one
    backlog: int
    oldest_waiting_at: datetime | None
    software_version: str
    last_error: str
    devices: list[dict[str, Any]]
    alerts: list[Note]  # shown in the reader's language; str() is English (health JSON, CLI)


def overview(session: Session, now: datetime, silent_after: float, behind_after: float) -> tuple[int, list[EdgeView]]:
    """Every edge with its state and alerts (silent past `silent_after` s, a backlog older than `behind_after` s,
    configuration behind while in contact)."""
    version = current_version(session)
    views = []
    rows = session.execute(
        select(FleetEdge, Site.code).join(Site, Site.id == FleetEdge.site_id).order_by(FleetEdge.name)
    )
    for edge, site_code in rows:
        contact = utc(edge.last_contact_at) if edge.last_contact_at else None
        silent = (now - contact).total_seconds() if contact else None
        oldest = utc(edge.oldest_waiting_at) if edge.oldest_waiting_at else None
        alerts: list[Note] = []
        if edge.revoked_at is None and edge.enrolled_at is not None:
            if silent is None or silent > silent_after:
                alerts.append(Note.of(N_("silent for %(seconds)s s"), seconds=int(silent)) if silent is not None
                              else Note.of(N_("never reported")))  # fmt: skip
            if oldest is not None and (now - oldest).total_seconds() > behind_after:
                alerts.append(Note.of(N_("%(count)s events waiting since %(since)s"), count=edge.backlog, since=oldest))
            if version - edge.config_version > 0 and silent is not None and silent > behind_after:
                behind_by = version - edge.config_version
                alerts.append(Note.of(N_("configuration %(count)s versions behind"), count=behind_by))
        try:
            devices = list(json.loads(edge.devices or "[]"))
        except ValueError:
            devices = []
        views.append(EdgeView(
            edge.id, edge.name, site_code, edge.machines, edge.enrolled_at is not None,
            edge.revoked_reason if edge.revoked_at else "", contact, silent, edge.config_version,
            max(0, version - edge.config_version), edge.backlog, oldest, edge.software_version, edge.last_error,
            devices, alerts,
        ))  # fmt: skip
    return version, views


def tokens_revoked(session: Session, token_id: int) -> bool:
    return session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token_id)) is not None


def standing(session: Session, plain_token: str) -> str:
    """Why an edge's token no longer works ("" when it is not a revoked edge token); told only to its holder."""
    if not plain_token:
        return ""
    row = session.execute(
        select(FleetEdge.revoked_reason, FleetEdge.revoked_at, ApiToken.revoked_at)
        .join(ApiToken, ApiToken.id == FleetEdge.token_id)
        .where(ApiToken.token_hash == hash_token(plain_token[:200]))
    ).first()
    if row is None:
        return "this credential was replaced (rotated or enrolled again)" if plain_token else ""
    if row[1] is not None:
        return f"edge revoked: {row[0]}"
    return "credential revoked" if row[2] is not None else ""
