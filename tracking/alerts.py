"""Tracking alerts: raised and auto-resolved by the pipeline's checks, read as labelled views with their history.

The person-driven actions (acknowledge, assign, snooze, resolve) are in `tracking.alert_work`; who sees which
kind is in `tracking.alert_routing`. Services take the session first and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit, notes
from core.clock import ManualClock, utc
from core.models import Site, User
from core.notes import Note
from tracking.alert_routing import all_routes, sees
from tracking.labels import TypeLabels
from tracking.models import Asset, Gateway, LocationInterval, ParRule, Tag, TrackingAlert, Zone
from tracking.states import ALERT_ACTIONS, ALERT_STATUS, AlertKind, AlertStatus, alert_action_target

SYSTEM = "system"
ENTITY = "tracking_alert"


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: AlertKind
    subject: str  # the stored key: an asset tag, tag key, "unit:asset_type" or gateway id
    subject_label: str  # what people read: "Infusion pump 3 (A-0003)", "ICU · Infusion pumps"
    message: str
    raised_at: datetime
    status: AlertStatus
    snoozed_until: datetime | None
    snooze_over: bool  # snoozed, and the time has passed: it is back in the live list
    assignee_id: int | None
    assignee: str  # display name, "" when nobody
    acknowledged_by: str
    cleared_at: datetime | None
    resolved_by: str
    resolution: str
    site_id: int | None

    @property
    def live(self) -> bool:
        return self.status is not AlertStatus.RESOLVED and (self.status is not AlertStatus.SNOOZED or self.snooze_over)

    @property
    def status_label(self) -> str:
        if self.status is AlertStatus.SNOOZED and self.snooze_over:
            return "Snooze ended"
        if self.status is AlertStatus.ASSIGNED and self.assignee:
            return f"Assigned to {self.assignee}"
        if self.status is AlertStatus.RESOLVED and self.resolved_by == SYSTEM:
            return "Resolved automatically"
        return self.status.label

    @property
    def actions(self) -> list[str]:
        """The actions the alert's state allows, in button order (the viewer's right to see it is checked apart)."""
        return [a for a in ALERT_ACTIONS if alert_action_target(self.status, a) is not None]


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime
    sentence: str


# ---- raising and clearing (called by tracking.recording inside the pipeline's unit of work) -------------------


def raise_alert(session: Session, kind: str, subject: str, note: Note, at: datetime) -> bool:
    """Open an alert unless one of this kind is live for the subject; True if newly raised. Audited.

    The message is stored as a note (core/notes.py) and shown in the reader's language."""
    message = note.encode()
    live = session.scalar(
        select(TrackingAlert.id).where(
            TrackingAlert.kind == kind, TrackingAlert.subject == subject, TrackingAlert.cleared_at.is_(None)
        )
    )
    if live is not None:
        return False
    alert = TrackingAlert(
        kind=kind, subject=subject, message=message, raised_at=at, status=AlertStatus.OPEN.value,
        site_id=site_of(session, AlertKind(kind), subject),
    )  # fmt: skip
    session.add(alert)
    session.flush()
    audit.record(session, SYSTEM, "alert.raise", ENTITY, alert.id, after={"message": message}, clock=ManualClock(at))
    return True


def auto_resolve(session: Session, kind: str, subject: str, at: datetime, why: Note) -> int:
    """The condition cleared: resolve the live alert of this kind for the subject, recording why (a stored note).
    Audited."""
    reason = why.encode()
    ids = list(
        session.scalars(
            select(TrackingAlert.id).where(
                TrackingAlert.kind == kind, TrackingAlert.subject == subject, TrackingAlert.cleared_at.is_(None)
            )
        )
    )
    done = 0
    for alert_id in ids:
        statement = ALERT_STATUS.compare_and_set(
            TrackingAlert.status, TrackingAlert.id, AlertStatus.RESOLVED, cleared_at=at, resolved_by=SYSTEM,
            resolution=reason,
        )  # fmt: skip
        if session.execute(statement, {"key": alert_id}).rowcount == 1:  # type: ignore[attr-defined]
            after = {"reason": reason}
            audit.record(session, SYSTEM, "alert.auto_resolve", ENTITY, alert_id, after=after, clock=ManualClock(at))
            done += 1
    return done


ASSET_SUBJECTS = frozenset({AlertKind.MISSING, AlertKind.ZONE_EXIT, AlertKind.FOD_OVERSTAY, AlertKind.TOOL_OVERDUE,
                            AlertKind.RETURN_UNSEEN})  # alerts whose subject is an asset tag  # fmt: skip


def site_of(session: Session, kind: AlertKind, subject: str) -> int | None:
    """The site an alert belongs to (for routing): through the asset's room, the gateway's room or the unit's
    rooms; when nothing says and there is exactly one site, that site."""
    zone_site: int | None = None
    if kind in ASSET_SUBJECTS or kind is AlertKind.BATTERY_LOW:
        key = Asset.asset_tag == subject if kind is not AlertKind.BATTERY_LOW else Tag.tag_key == subject
        row = session.execute(
            select(Asset.zone_id, Asset.home_zone_id).outerjoin(Tag, Asset.tag_id == Tag.id).where(key)
        ).first()
        zone_ids = [z for z in (row or ()) if z is not None]
        if zone_ids:
            zone_site = session.scalar(select(Zone.site_id).where(Zone.id == zone_ids[0]))
    elif kind is AlertKind.GATEWAY_DOWN:
        zone_site = session.scalar(
            select(Zone.site_id).join(Gateway, Gateway.zone_id == Zone.id).where(Gateway.gateway_id == subject)
        )
    elif kind is AlertKind.BELOW_PAR:
        unit = subject.partition(":")[0]
        zone_site = session.scalar(select(Zone.site_id).where(Zone.unit == unit, Zone.site_id.is_not(None)).limit(1))
    if zone_site is not None:
        return zone_site
    sites = session.scalars(select(Site.id).limit(2)).all()
    return sites[0] if len(sites) == 1 else None


def last_room(session: Session, asset_id: int) -> str:
    """The name of the last room the asset was located in ("" if never)."""
    name = session.scalar(
        select(Zone.name)
        .join(LocationInterval, LocationInterval.zone_id == Zone.id)
        .where(LocationInterval.asset_id == asset_id)
        .order_by(LocationInterval.started_at.desc())
        .limit(1)
    )
    return name or ""


# ---- reading ---------------------------------------------------------------------------------------------------


def subject_labels(session: Session, alerts: list[TrackingAlert]) -> dict[tuple[str, str], str]:
    """(kind, subject) -> what people read, looked up in one query per kind of subject."""
    types = TypeLabels.load(session)
    tags = {a.subject for a in alerts if a.kind in ASSET_SUBJECTS}
    keys = {a.subject for a in alerts if a.kind == AlertKind.BATTERY_LOW}
    gateways = {a.subject for a in alerts if a.kind == AlertKind.GATEWAY_DOWN}
    by_tag = {t: f"{n} ({t})" for t, n in session.execute(
        select(Asset.asset_tag, Asset.name).where(Asset.asset_tag.in_(tags)))} if tags else {}  # fmt: skip
    by_key = {k: f"{n} ({t})" for k, n, t in session.execute(
        select(Tag.tag_key, Asset.name, Asset.asset_tag).join(Asset, Asset.tag_id == Tag.id)
        .where(Tag.tag_key.in_(keys)))} if keys else {}  # fmt: skip
    rooms = dict(session.execute(
        select(Gateway.gateway_id, Zone.name).join(Zone, Gateway.zone_id == Zone.id)
        .where(Gateway.gateway_id.in_(gateways))).all()) if gateways else {}  # fmt: skip
    found: dict[tuple[str, str], str] = {}
    for a in alerts:
        if a.kind == AlertKind.BELOW_PAR:
            unit, _, asset_type = a.subject.partition(":")
            text = f"{unit} · {types.plural(asset_type)}"
        elif a.kind == AlertKind.BATTERY_LOW:
            text = by_key.get(a.subject, f"Unattached tag {a.subject}")
        elif a.kind == AlertKind.GATEWAY_DOWN:
            text = f"Gateway {a.subject}" + (f" in {rooms[a.subject]}" if a.subject in rooms else "")
        else:
            text = by_tag.get(a.subject, a.subject)
        found[(a.kind, a.subject)] = text
    return found


def _views(session: Session, rows: list[TrackingAlert], now: datetime) -> list[AlertView]:
    labels = subject_labels(session, rows)
    people = {a.assignee_id for a in rows if a.assignee_id is not None}
    names: dict[int, str] = dict(session.execute(
        select(User.id, func.coalesce(func.nullif(User.display_name, ""), User.username)).where(User.id.in_(people))
    ).all()) if people else {}  # fmt: skip
    return [
        AlertView(
            id=a.id,
            kind=AlertKind(a.kind),
            subject=a.subject,
            subject_label=labels[(a.kind, a.subject)],
            message=a.message,
            raised_at=a.raised_at,
            status=AlertStatus(a.status),
            snoozed_until=a.snoozed_until,
            snooze_over=a.status == AlertStatus.SNOOZED and a.snoozed_until is not None and utc(a.snoozed_until) <= now,
            assignee_id=a.assignee_id,
            assignee=names.get(a.assignee_id, "") if a.assignee_id else "",
            acknowledged_by=a.acknowledged_by,
            cleared_at=a.cleared_at,
            resolved_by=a.resolved_by,
            resolution=a.resolution,
            site_id=a.site_id,
        )
        for a in rows
    ]


def list_alerts(
    session: Session,
    roles: frozenset[str],
    now: datetime,
    show: str = "live",
    user_id: int | None = None,
    limit: int = 200,
) -> list[AlertView]:
    """Alerts routed to one of `roles`. show: live (open, acknowledged, assigned, snooze over), snoozed
    (still sleeping), resolved (newest first) or mine (live and assigned to `user_id`)."""
    query = select(TrackingAlert)
    if show == "resolved":
        query = query.where(TrackingAlert.cleared_at.is_not(None)).order_by(TrackingAlert.cleared_at.desc())
    else:
        query = query.where(TrackingAlert.cleared_at.is_(None)).order_by(TrackingAlert.raised_at.desc())
    if show == "mine":
        query = query.where(TrackingAlert.assignee_id == (user_id if user_id is not None else -1))
    routes = all_routes(session)
    rows = [a for a in session.scalars(query.limit(2000)) if sees(routes, a.site_id, a.kind, roles)]
    views = _views(session, rows, now)
    if show == "snoozed":
        views = [v for v in views if v.status is AlertStatus.SNOOZED and not v.snooze_over]
    elif show != "resolved":
        views = [v for v in views if v.live]
    return views[:limit]


def counts(session: Session, roles: frozenset[str], now: datetime) -> dict[str, int]:
    """How many alerts each list holds for these roles (the tab badges)."""
    live = list_alerts(session, roles, now, "live", limit=10_000)
    snoozed = list_alerts(session, roles, now, "snoozed", limit=10_000)
    return {"live": len(live), "snoozed": len(snoozed)}


MAX_ID = 2**31 - 1  # an id past the column's range is simply not there (and must not reach the driver)


def get_alert(session: Session, alert_id: int, now: datetime) -> tuple[AlertView, TrackingAlert] | None:
    row = session.get(TrackingAlert, alert_id) if 0 < alert_id <= MAX_ID else None
    return (_views(session, [row], now)[0], row) if row is not None else None


def may_see(session: Session, alert: AlertView | TrackingAlert, roles: frozenset[str]) -> bool:
    return sees(all_routes(session), alert.site_id, str(alert.kind), roles)


def history(session: Session, alert_id: int) -> list[HistoryLine]:
    """The alert's audit trail as sentences, oldest first."""
    entries = audit.history(session, ENTITY, alert_id)
    people = _people(session)
    lines = []
    for entry in sorted(entries, key=lambda e: e.at):
        lines.append(HistoryLine(entry.at, _sentence(entry.action, _who(entry.actor, people), entry.after or {})))
    return lines


def _sentence(action: str, who: str, after: dict[str, Any]) -> str:
    """One history line in the reader's language (the audit entry keeps the facts, not the words)."""
    if action == "alert.raise":
        return gettext("Raised: %(message)s", message=notes.shown(str(after.get("message", ""))))
    if action == "alert.acknowledge":
        return gettext("%(who)s acknowledged it.", who=who)
    if action == "alert.assign":
        return gettext("%(who)s assigned it to %(assignee)s.", who=who,
                       assignee=after.get("assignee") or gettext("someone"))  # fmt: skip
    if action == "alert.snooze":
        return gettext("%(who)s snoozed it until %(until)s.", who=who, until=after.get("until_text", "?"))
    if action == "alert.resolve":
        return gettext("%(who)s resolved it: “%(note)s”", who=who, note=after.get("note", ""))
    if action == "alert.auto_resolve":
        return gettext("Resolved automatically: %(reason)s.",
                       reason=notes.shown(str(after.get("reason") or ""))
                       or gettext("the condition cleared"))  # fmt: skip
    return f"{who}: {action}"


def _people(session: Session) -> dict[str, str]:
    return {u: d or u for u, d in session.execute(select(User.username, User.display_name))}


def _who(actor: str, people: dict[str, str]) -> str:
    kind, _, name = actor.partition(":")
    if not name:
        return "The system" if actor == SYSTEM else actor
    return people.get(name, name) if kind == "user" else f"Token {name}"


def par_subject(rule: ParRule) -> str:
    return f"{rule.unit}:{rule.asset_type}"
