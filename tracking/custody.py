"""Chain of custody for tagged tools: vending says who took a tool, tracking says where it is, alerts join the two.

vending publishes ToolCheckedOut / ToolReturned; this consumer opens and closes a `ToolCustody` per loan and
links it to the asset whose asset tag is the tool's serial (a tool carrying a BLE tag). The room the tag was
in at checkout is the machine's room; a return whose tag was last heard elsewhere is flagged. Each flush:
a tool in a must-return (FOD) zone longer than the zone's limit raises `fod_overstay` naming the holder, and a
tagged tool past its due time raises `tool_overdue` with the room it was last heard in; both resolve by
themselves when the tool leaves the zone or comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.events import Event, ToolCheckedOut, ToolReturned
from core.notes import N_, Note
from tracking import alerts
from tracking.models import Asset, Tag, ToolCustody, Zone
from tracking.states import AlertKind

CONSUMER = "tracking.custody"
EVENT_TYPES = (ToolCheckedOut.event_type, ToolReturned.event_type)
ALERT_KINDS = frozenset({AlertKind.FOD_OVERSTAY.value, AlertKind.TOOL_OVERDUE.value, AlertKind.RETURN_UNSEEN.value})


@dataclass(frozen=True, slots=True)
class CustodyView:
    """One loan as people read it: the tool, who holds it, where it is now, and what is wrong."""

    serial: str
    sku: str
    asset_tag: str | None
    asset_name: str
    holder: str
    holder_name: str
    machine: str
    charge_code: str
    out_at: datetime
    due_at: datetime
    zone_code: str | None
    zone_name: str
    zone_since: datetime | None
    fod_limit_min: int | None
    last_seen_at: datetime | None
    returned_at: datetime | None
    return_note: str

    @property
    def tagged(self) -> bool:
        return self.asset_tag is not None

    def minutes_in_zone(self, now: datetime) -> int | None:
        return int((now - self.zone_since).total_seconds() // 60) if self.zone_since else None

    def fod_over(self, now: datetime) -> bool:
        minutes = self.minutes_in_zone(now)
        return self.fod_limit_min is not None and minutes is not None and minutes >= self.fod_limit_min

    def overdue(self, now: datetime) -> bool:
        return self.returned_at is None and self.due_at <= now


def handle_event(session: Session, event: Event) -> None:
    """Outbox consumer: open custody on checkout, close it on return (idempotent by the outbox's marker)."""
    if isinstance(event, ToolCheckedOut):
        _open(session, event)
    elif isinstance(event, ToolReturned):
        _close(session, event)


def _asset_for(session: Session, serial: str) -> Asset | None:
    return session.scalar(select(Asset).where((Asset.asset_tag == serial) | (Asset.serial == serial)).limit(1))


def _open_custody(session: Session, serial: str) -> ToolCustody | None:
    return session.scalar(
        select(ToolCustody).where(ToolCustody.serial == serial, ToolCustody.returned_at.is_(None))
        .order_by(ToolCustody.out_at.desc()).limit(1)
    )  # fmt: skip


def _open(session: Session, event: ToolCheckedOut) -> None:
    stale = _open_custody(session, event.serial)
    if stale is not None:  # a return we never heard of: close it so one tool has one open custody
        stale.returned_at, stale.return_note = event.occurred_at, _CLOSED_BY_CHECKOUT
    asset = _asset_for(session, event.serial)
    session.add(ToolCustody(
        serial=event.serial, sku=event.sku, asset_id=asset.id if asset else None, site_code=event.site_code,
        holder=event.worker, holder_name=event.worker_name, machine=event.machine, charge_code=event.charge_code,
        out_at=event.occurred_at, due_at=event.due_at, out_zone_id=asset.zone_id if asset else None,
    ))  # fmt: skip
    session.flush()


def _close(session: Session, event: ToolReturned) -> None:
    custody = _open_custody(session, event.serial)
    if custody is None:
        return  # checked out before custody existed, or already closed: nothing to follow
    asset = session.get(Asset, custody.asset_id) if custody.asset_id is not None else None
    custody.returned_at, custody.return_condition = event.occurred_at, event.condition
    custody.return_zone_id = asset.zone_id if asset else None
    subject = asset.asset_tag if asset else None
    if subject is None:
        return
    for kind in (AlertKind.FOD_OVERSTAY, AlertKind.TOOL_OVERDUE):
        alerts.auto_resolve(session, kind, subject, event.occurred_at, _returned_at(event.machine))
    note = _return_problem(session, custody, asset, event)
    if note is not None:
        custody.return_note = note.encode()
        alerts.raise_alert(session, AlertKind.RETURN_UNSEEN, subject, note, event.occurred_at)


_CLOSED_BY_CHECKOUT = Note.of(N_("closed by a later checkout (no return was seen)")).encode()


def _returned_at(machine: str | None) -> Note:
    if machine:
        return Note.of(N_("returned at %(machine)s"), machine=machine)
    return Note.of(N_("returned at the crib"))


def _heard(zone_name: str) -> Note:
    if zone_name:
        return Note.of(N_("last heard in %(zone)s"), zone=zone_name)
    return Note.of(N_("not heard in any room"))


def _return_problem(session: Session, custody: ToolCustody, asset: Asset | None, event: ToolReturned) -> Note | None:
    """Why this return does not look right (a stored note); None when the tag was heard where the tool was taken."""
    if asset is None or custody.out_zone_id is None or event.condition == "lost":
        return None
    if asset.zone_id == custody.out_zone_id:
        return None
    locker_room = _zone_name(session, custody.out_zone_id)
    heard = _heard(_zone_name(session, asset.zone_id) if asset.zone_id else "")
    return Note.of(N_("%(asset)s (%(serial)s) %(returned)s by %(holder)s %(holder_name)s, but its tag was %(heard)s, "
                      "not in %(locker_room)s where it was taken: check the locker holds it"),
                   asset=asset.name, serial=custody.serial, returned=_returned_at(event.machine), holder=custody.holder,
                   holder_name=custody.holder_name, heard=heard, locker_room=locker_room)  # fmt: skip


def _zone_name(session: Session, zone_id: int | None) -> str:
    return str(session.scalar(select(Zone.name).where(Zone.id == zone_id)) or "an unknown room") if zone_id else ""


def check(session: Session, now: datetime) -> list[str]:
    """Raise FOD overstay and overdue alerts for tagged tools in custody; resolve FOD when the tool left."""
    raised: list[str] = []
    for view in custody_views(session, open_only=True):
        if view.asset_tag is None:
            continue
        if view.fod_over(now):
            message = Note.of(N_("%(asset)s (%(serial)s) held by %(holder)s %(holder_name)s has been in %(zone)s for "
                                 "%(minutes)s min; the zone's FOD limit is %(limit)s min: bring it out or account for "
                                 "it"), asset=view.asset_name, serial=view.serial, holder=view.holder,
                              holder_name=view.holder_name, zone=view.zone_name, minutes=str(view.minutes_in_zone(now)),
                              limit=str(view.fod_limit_min))  # fmt: skip
            if alerts.raise_alert(session, AlertKind.FOD_OVERSTAY, view.asset_tag, message, now):
                raised.append(view.asset_tag)
        else:
            left = (Note.of(N_("left the FOD zone (now in %(zone)s)"), zone=view.zone_name) if view.zone_name
                    else Note.of(N_("left the FOD zone (now in no known room)")))  # fmt: skip
            alerts.auto_resolve(session, AlertKind.FOD_OVERSTAY, view.asset_tag, now, left)
        if view.overdue(now):
            where = _heard(view.zone_name or "")
            if view.last_seen_at:
                where = Note.of(N_("%(where)s at %(at)s"), where=where, at=view.last_seen_at)
            message = Note.of(N_("%(asset)s (%(serial)s) was due back at %(due)s from %(holder)s %(holder_name)s; "
                                 "%(where)s"), asset=view.asset_name, serial=view.serial,
                              due=view.due_at, holder=view.holder, holder_name=view.holder_name,
                              where=where)  # fmt: skip
            if alerts.raise_alert(session, AlertKind.TOOL_OVERDUE, view.asset_tag, message, now):
                raised.append(view.asset_tag)
    return raised


def custody_views(
    session: Session, *, open_only: bool = False, asset_id: int | None = None, holder: str | None = None,
    since: datetime | None = None, limit: int = 500,
) -> list[CustodyView]:  # fmt: skip
    """Loans with the tool's current room, newest first (open ones only, one tool's or one holder's on request)."""
    query = (
        select(ToolCustody, Asset.asset_tag, Asset.name, Asset.zone_since, Zone.code, Zone.name.label("zone_name"),
               Zone.fod_limit_min, Tag.last_seen_at)
        .outerjoin(Asset, Asset.id == ToolCustody.asset_id)
        .outerjoin(Zone, Zone.id == Asset.zone_id)
        .outerjoin(Tag, Tag.id == Asset.tag_id)
        .order_by(ToolCustody.out_at.desc(), ToolCustody.id.desc())
        .limit(limit)
    )  # fmt: skip
    if open_only:
        query = query.where(ToolCustody.returned_at.is_(None))
    if asset_id is not None:
        query = query.where(ToolCustody.asset_id == asset_id)
    if holder is not None:
        query = query.where(ToolCustody.holder == holder)
    if since is not None:
        query = query.where(ToolCustody.out_at >= since)
    views = []
    for row in session.execute(query).mappings():
        c: ToolCustody = row["ToolCustody"]
        current = c.returned_at is None
        views.append(CustodyView(
            c.serial, c.sku, row["asset_tag"], row["name"] or c.serial, c.holder, c.holder_name, c.machine,
            c.charge_code, c.out_at, c.due_at, row["code"] if current else None,
            (row["zone_name"] or "") if current else "", row["zone_since"] if current else None,
            row["fod_limit_min"] if current else None, row["last_seen_at"], c.returned_at, c.return_note,
        ))  # fmt: skip
    return views


def out_by_zone(views: list[CustodyView]) -> dict[str, list[CustodyView]]:
    """The shift-end report: tools still out, grouped by the room their tag is in ("Not heard" for the rest)."""
    grouped: dict[str, list[CustodyView]] = {}
    for view in sorted(views, key=lambda v: (v.zone_name or "~", v.serial)):
        if view.returned_at is None:
            key = view.zone_name or ("Not tagged" if not view.tagged else "Not heard in any room")
            grouped.setdefault(key, []).append(view)
    return grouped
