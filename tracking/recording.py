"""Writes what the engine decided: zone intervals, batched last-seen updates, alerts and their outbox events.

Services take the session first and never commit; the pipeline's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from core.events import AssetMissing, AssetMoved, ParShortage, TagBatteryLow, ZoneExit
from core.notes import N_, Note
from core.outbox import publish
from tracking import alerts, locate_events
from tracking.engine import GatewayChange, RoomChange, TagSeen
from tracking.labels import TypeLabels
from tracking.models import Asset, Gateway, LocationInterval, ParRule, Tag, TrackingAlert, Zone
from tracking.states import GATEWAY_STATUS, AssetStatus, GatewayStatus

_GATEWAY_MOVES = {  # compare-and-set per target, from the gateway table
    target: GATEWAY_STATUS.compare_and_set(Gateway.__table__.c.status, Gateway.__table__.c.gateway_id, target)
    for target in GatewayStatus
}


def at_time(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def raise_alert(session: Session, kind: str, subject: str, message: Note, at: datetime) -> bool:
    """Open an alert unless one of this kind is already live for the subject; True if newly raised."""
    return alerts.raise_alert(session, kind, subject, message, at)


def clear_alert(session: Session, kind: str, subject: str, at: datetime, reason: Note | None = None) -> None:
    """The condition behind an alert is gone: resolve it automatically, recording `reason` (a stored note)."""
    alerts.auto_resolve(session, kind, subject, at, reason or Note.of(N_("the condition cleared")))


def apply_room_changes(session: Session, changes: Iterable[RoomChange]) -> int:
    """Close the open interval, open the next, update the asset and publish AssetMoved (and ZoneExit)."""
    changes = list(changes)
    if not changes:
        return 0
    keys = {c.tag_key for c in changes}
    rows = session.execute(select(Tag.tag_key, Asset).join(Asset, Asset.tag_id == Tag.id).where(Tag.tag_key.in_(keys)))
    assets = {key: asset for key, asset in rows}
    zones = {z.code: z for z in session.scalars(select(Zone))}
    applied, moved = 0, []
    for change in changes:
        asset = assets.get(change.tag_key)
        if asset is None:
            continue  # a tag not attached to an asset: nothing to record
        at = at_time(change.at)
        zone = zones.get(change.to_zone) if change.to_zone else None
        session.execute(
            update(LocationInterval)
            .where(LocationInterval.asset_id == asset.id, LocationInterval.ended_at.is_(None))
            .values(ended_at=at)
        )
        session.add(
            LocationInterval(
                asset_id=asset.id,
                zone_id=zone.id if zone else None,
                started_at=at,
                confidence=change.confidence,
                reason=change.reason.encode(),
            )
        )
        asset.zone_id, asset.zone_since = (zone.id if zone else None), at
        asset.confidence, asset.location_reason = change.confidence, change.reason.encode()
        publish(
            session,
            AssetMoved(
                occurred_at=at,
                asset_tag=asset.asset_tag,
                from_zone=change.from_zone,
                to_zone=change.to_zone,
                confidence=change.confidence,
                reason=change.reason.english(),  # other domains and outside consumers read English
            ),
        )
        _exit_alerts(session, asset, zone, change, at)
        moved.append(asset.id)
        applied += 1
    locate_events.announce(session, "moved", moved, at_time(changes[-1].at))
    return applied


def _exit_alerts(session: Session, asset: Asset, zone: Zone | None, change: RoomChange, at: datetime) -> None:
    if zone is not None and zone.kind == "exit":
        message = Note.of(N_("%(asset)s (%(asset_tag)s) entered exit zone %(zone)s"),
                          asset=asset.name, asset_tag=asset.asset_tag, zone=zone.name)  # fmt: skip
        if raise_alert(session, "zone_exit", asset.asset_tag, message, at):
            publish(session, ZoneExit(occurred_at=at, asset_tag=asset.asset_tag, zone=zone.code,
                                       reason=change.reason.english()))
    elif zone is not None:
        clear_alert(session, "zone_exit", asset.asset_tag, at, Note.of(N_("back in %(zone)s"), zone=zone.name))
        clear_alert(session, "missing", asset.asset_tag, at, Note.of(N_("seen again in %(zone)s"), zone=zone.name))


def record_seen(session: Session, seen: Iterable[TagSeen], battery_low_mv: int) -> int:
    """One batched UPDATE for the tags heard since the last flush; unknown tags are registered."""
    seen = list(seen)
    if not seen:
        return 0
    existing = dict(
        session.execute(select(Tag.tag_key, Tag.id).where(Tag.tag_key.in_([s.tag_key for s in seen]))).all()
    )
    for item in seen:
        if item.tag_key not in existing:
            tag = Tag(tag_key=item.tag_key)
            session.add(tag)
            session.flush()
            existing[item.tag_key] = tag.id
    rows = []
    for item in seen:
        row: dict[str, object] = {"id": existing[item.tag_key], "last_seen_at": at_time(item.last_seen)}
        if item.battery_mv is not None:
            row["battery_mv"] = item.battery_mv
        if item.temperature_c is not None:
            row["temperature_c"] = item.temperature_c
        rows.append(row)
    for shape in {tuple(sorted(r)) for r in rows}:
        session.execute(update(Tag), [r for r in rows if tuple(sorted(r)) == shape])
    _battery_alerts(session, [s for s in seen if s.battery_mv is not None], battery_low_mv)
    return len(rows)


def _battery_alerts(session: Session, seen: list[TagSeen], threshold_mv: int) -> None:
    if not seen:
        return
    keys = [s.tag_key for s in seen]
    rows = session.execute(
        select(Tag.tag_key, Asset.asset_tag, Asset.name)
        .join(Asset, Asset.tag_id == Tag.id)
        .where(Tag.tag_key.in_(keys))
    ).all()
    owners = {key: asset_tag for key, asset_tag, _name in rows}
    names = {
        key: Note.of(N_("%(asset)s (%(asset_tag)s)"), asset=name, asset_tag=asset_tag) for key, asset_tag, name in rows
    }
    for item in seen:
        at = at_time(item.last_seen)
        assert item.battery_mv is not None
        if item.battery_mv < threshold_mv:
            owner = owners.get(item.tag_key)
            whose = names.get(item.tag_key) or Note.of(N_("Unattached tag %(tag)s"), tag=item.tag_key)
            message = Note.of(N_("%(whose)s: tag battery at %(mv)s mV, below %(threshold)s mV; replace it soon"),
                              whose=whose, mv=item.battery_mv, threshold=threshold_mv)  # fmt: skip
            if raise_alert(session, "battery_low", item.tag_key, message, at):
                event = TagBatteryLow(
                    occurred_at=at,
                    tag_key=item.tag_key,
                    asset_tag=owner,
                    battery_mv=item.battery_mv,
                    threshold_mv=threshold_mv,
                )
                publish(session, event)
        else:
            again = Note.of(N_("battery reads %(mv)s mV again"), mv=item.battery_mv)
            clear_alert(session, "battery_low", item.tag_key, at, again)


def record_gateway_changes(session: Session, changes: Iterable[GatewayChange], heard: dict[str, float]) -> None:
    changes = list(changes)
    rooms = dict(
        session.execute(
            select(Gateway.gateway_id, Zone.name)
            .join(Zone, Gateway.zone_id == Zone.id)
            .where(Gateway.gateway_id.in_([c.gateway_id for c in changes]))
        ).all()
    ) if changes else {}  # fmt: skip
    for change in changes:
        at = at_time(change.at)
        target = GatewayStatus.UP if change.up else GatewayStatus.DOWN
        session.execute(_GATEWAY_MOVES[target], {"key": change.gateway_id})  # no-op when already there
        if change.up:
            why = Note.of(N_("gateway %(gateway)s %(reason)s"), gateway=change.gateway_id, reason=change.reason)
            clear_alert(session, "gateway_down", change.gateway_id, at, why)
        elif change.gateway_id in rooms:
            message = Note.of(N_("Gateway %(gateway)s in %(room)s %(reason)s: tags there may show as unknown"),
                              gateway=change.gateway_id, room=rooms[change.gateway_id],
                              reason=change.reason)  # fmt: skip
            raise_alert(session, "gateway_down", change.gateway_id, message, at)
        else:
            message = Note.of(N_("Gateway %(gateway)s %(reason)s: tags there may show as unknown"),
                              gateway=change.gateway_id, reason=change.reason)  # fmt: skip
            raise_alert(session, "gateway_down", change.gateway_id, message, at)
    if heard:  # one executemany for every gateway heard lately
        table = Gateway.__table__
        assert isinstance(table, Table)
        statement = update(table).where(table.c.gateway_id == bindparam("gid")).values(last_heard_at=bindparam("heard"))
        session.execute(statement, [{"gid": gateway_id, "heard": at_time(when)} for gateway_id, when in heard.items()])


def check_missing(session: Session, now: datetime, missing_after: timedelta) -> list[str]:
    """Raise `missing` for assets whose tag was last seen longer ago than `missing_after`."""
    cutoff = now - missing_after
    rows = session.execute(
        select(Asset, Tag.last_seen_at, Zone.code, Zone.name)
        .join(Tag, Asset.tag_id == Tag.id)
        .outerjoin(Zone, Asset.zone_id == Zone.id)
        .where(Tag.last_seen_at.is_not(None), Tag.last_seen_at < cutoff)
    )
    raised = []
    live = set(
        session.scalars(
            select(TrackingAlert.subject).where(TrackingAlert.kind == "missing", TrackingAlert.cleared_at.is_(None))
        )
    )
    for asset, last_seen, zone_code, zone_name in rows:
        if asset.asset_tag in live:
            continue  # already raised: no message to build, no last-room lookup on every flush
        zone_name = zone_name or alerts.last_room(session, asset.id)
        values: dict[str, str | datetime] = {"asset": asset.name, "asset_tag": asset.asset_tag,
                                             "since": last_seen or now}  # never None: the query asks for a time
        if zone_name:
            message = Note.of(N_("%(asset)s (%(asset_tag)s) not heard since %(since)s, last in %(zone)s"),
                              zone=zone_name, **values)  # fmt: skip
        else:
            message = Note.of(N_("%(asset)s (%(asset_tag)s) not heard since %(since)s"), **values)
        if raise_alert(session, "missing", asset.asset_tag, message, now):
            publish(
                session,
                AssetMissing(occurred_at=now, asset_tag=asset.asset_tag, last_zone=zone_code, last_seen_at=last_seen),
            )
            raised.append(asset.asset_tag)
    return raised


def available_count(session: Session, unit: str, asset_type: str) -> int:
    """Clean (so not in use) assets of a type owned by a unit, not counting those reported missing."""
    missing = select(TrackingAlert.subject).where(TrackingAlert.kind == "missing", TrackingAlert.cleared_at.is_(None))
    query = select(func.count(Asset.id)).where(
        Asset.unit == unit,
        Asset.asset_type == asset_type,
        Asset.status == AssetStatus.CLEAN.value,
        Asset.asset_tag.not_in(missing),
    )
    return int(session.scalar(query) or 0)


def check_par(session: Session, now: datetime) -> list[str]:
    """Raise `below_par` (and ParShortage) where a unit has fewer available assets of a type than its PAR."""
    short = []
    types = TypeLabels.load(session)
    for rule in session.scalars(select(ParRule)):
        subject = f"{rule.unit}:{rule.asset_type}"
        available = available_count(session, rule.unit, rule.asset_type)
        if available < rule.minimum:
            kind = types.plural(rule.asset_type).lower()
            message = Note.of(N_("%(unit)s has %(available)s available %(kind)s, PAR is %(minimum)s"),
                              unit=rule.unit, available=available, kind=kind, minimum=rule.minimum)  # fmt: skip
            if raise_alert(session, "below_par", subject, message, now):
                publish(
                    session,
                    ParShortage(
                        occurred_at=now,
                        unit=rule.unit,
                        asset_type=rule.asset_type,
                        available=available,
                        minimum=rule.minimum,
                    ),
                )
                short.append(subject)
        else:
            again = Note.of(N_("%(available)s available again, PAR is %(minimum)s"), available=available,
                            minimum=rule.minimum)  # fmt: skip
            clear_alert(session, "below_par", subject, now, again)
    return short
