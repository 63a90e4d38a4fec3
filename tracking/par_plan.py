"""PAR rebalancing and shortfalls: the moves that would bring every unit to PAR, and what no move can fix.

Per asset type, units above PAR (and units holding available equipment without a PAR rule) can give their
surplus to units below PAR; the moves are suggested largest gap first. What is still missing after every
possible move is the type's shortfall. A shortfall that lasts longer than `purchase_after` becomes one
EquipmentShortfall event (procurement turns it into a purchase request through its approval rules), with the
reason in words; it is not asked again until the shortfall has cleared and come back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext, ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import notes
from core.events import EquipmentShortfall
from core.models import Site
from core.notes import N_, Note
from core.outbox import publish
from tracking.labels import TypeLabels
from tracking.models import Asset, ParRule, ParShortfall, TrackingAlert, Zone
from tracking.states import AssetStatus


@dataclass(frozen=True, slots=True)
class Move:
    quantity: int
    from_unit: str
    to_unit: str


@dataclass(frozen=True, slots=True)
class UnitLevel:
    unit: str
    available: int
    minimum: int

    @property
    def gap(self) -> int:
        return self.available - self.minimum


@dataclass(frozen=True, slots=True)
class TypePlan:
    """One asset type across the site: each unit's level, the moves that help, and what is still short."""

    asset_type: str
    type_label: str
    plural: str
    units: tuple[UnitLevel, ...]
    moves: tuple[Move, ...]
    shortfall: int

    @property
    def needed(self) -> int:
        return sum(u.minimum for u in self.units)

    @property
    def available(self) -> int:
        return sum(u.available for u in self.units)

    @property
    def below(self) -> tuple[UnitLevel, ...]:
        return tuple(u for u in self.units if u.gap < 0)

    def moves_note(self) -> Note:
        """The suggested moves as one note ("move 4 from Ward B to ICU; move 1 from Store to ICU"), each move shown in
        the reader's language; the units are names people typed, kept as they are."""
        return notes.joined(
            [Note.of(N_("move %(quantity)s from %(from_unit)s to %(to_unit)s"), quantity=m.quantity,
                     from_unit=m.from_unit, to_unit=m.to_unit) for m in self.moves], "; ",
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShortfallView:
    """One shortfall episode as the PAR page shows it: how many, since when, for how long, and whether purchasing
    has been asked (the EquipmentShortfall was published; procurement's queue shows what became of it)."""

    asset_type: str
    type_label: str
    quantity: int
    since: datetime
    lasted: str
    requested_at: datetime | None
    reason: str
    cleared_at: datetime | None


def _available_by_unit(session: Session) -> dict[tuple[str, str], int]:
    missing = select(TrackingAlert.subject).where(TrackingAlert.kind == "missing", TrackingAlert.cleared_at.is_(None))
    rows = session.execute(
        select(Asset.unit, Asset.asset_type, func.count(Asset.id))
        .where(Asset.status == AssetStatus.CLEAN.value, Asset.asset_tag.not_in(missing))
        .group_by(Asset.unit, Asset.asset_type)
    )  # fmt: skip
    return {(unit, asset_type): int(count) for unit, asset_type, count in rows}


def plan(session: Session) -> list[TypePlan]:
    """Every asset type with a PAR rule: unit levels, suggested moves and the remaining shortfall."""
    available = _available_by_unit(session)
    rules: dict[str, dict[str, int]] = defaultdict(dict)
    for rule in session.scalars(select(ParRule)):
        rules[rule.asset_type][rule.unit] = rule.minimum
    types = TypeLabels.load(session)
    plans = []
    for asset_type in sorted(rules):
        units = sorted({unit for (unit, kind) in available if kind == asset_type} | set(rules[asset_type]))
        levels = tuple(UnitLevel(u, available.get((u, asset_type), 0), rules[asset_type].get(u, 0)) for u in units)
        moves, shortfall = _moves(levels)
        plans.append(TypePlan(asset_type, types.label(asset_type), types.plural(asset_type).lower(), levels,
                              tuple(moves), shortfall))  # fmt: skip
    return plans


def _moves(levels: tuple[UnitLevel, ...]) -> tuple[list[Move], int]:
    """Largest surplus to largest gap first; returns the moves and what is still short after them."""
    spare = {u.unit: u.gap for u in sorted(levels, key=lambda u: (-u.gap, u.unit)) if u.gap > 0}
    moves: list[Move] = []
    short = 0
    for taker in sorted((u for u in levels if u.gap < 0), key=lambda u: (u.gap, u.unit)):
        need = -taker.gap
        for giver, left in spare.items():
            take = min(need, left)
            if take > 0:
                moves.append(Move(take, giver, taker.unit))
                spare[giver] -= take
                need -= take
        short += need
    return moves, short


def reason(plan_row: TypePlan, since: datetime, now: datetime) -> Note:
    """'ICU below PAR (2 of 6), Ward 3E below PAR (1 of 4) for 3 days; site total 41 of 45 needed; …', as a note
    stored with the shortfall and sent on to purchasing (shown in each reader's language)."""
    below = notes.joined([Note.of(N_("%(unit)s below PAR (%(available)s of %(minimum)s)"), unit=u.unit,
                                  available=u.available, minimum=u.minimum) for u in plan_row.below], ", ")  # fmt: skip
    what = plan_row.plural if plan_row.shortfall > 1 else plan_row.type_label.lower()
    if plan_row.moves:
        then = Note.of(N_("after the suggested moves (%(moves)s) %(short)s %(what)s still short"),
                       moves=plan_row.moves_note(), short=plan_row.shortfall, what=what)  # fmt: skip
    else:
        then = Note.of(N_("no unit has any to spare: %(short)s %(what)s still short"), short=plan_row.shortfall,
                       what=what)  # fmt: skip
    return Note.of(N_("%(below)s for %(duration)s; site total %(available)s of %(needed)s needed; %(then)s"),
                   below=below, duration=_duration_note(now - since), available=plan_row.available,
                   needed=plan_row.needed, then=then)  # fmt: skip


def _duration_note(span: timedelta) -> Note:
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400:
        return Note.of(N_("%(days)s days"), days=seconds // 86400)
    if seconds >= 7200:
        return Note.of(N_("%(hours)s hours"), hours=seconds // 3600)
    return Note.of(N_("%(minutes)s min"), minutes=max(seconds // 60, 1))


def duration_text(span: timedelta) -> str:
    """How long a shortfall lasted, in the reader's language ("3 days", "2 hours", "5 min")."""
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400:
        return ngettext("%(num)s day", "%(num)s days", seconds // 86400)
    if seconds >= 7200:
        return ngettext("%(num)s hour", "%(num)s hours", seconds // 3600)
    return gettext("%(num)s min", num=max(seconds // 60, 1))


def check_shortfalls(session: Session, now: datetime, purchase_after: timedelta) -> list[str]:
    """Track each type's shortfall; publish EquipmentShortfall once it has lasted `purchase_after`."""
    requested: list[str] = []
    open_rows = {row.asset_type: row for row in session.scalars(select(ParShortfall).where(
        ParShortfall.cleared_at.is_(None)))}  # fmt: skip
    for row in plan(session):
        current = open_rows.pop(row.asset_type, None)
        if row.shortfall <= 0:
            if current is not None:
                current.cleared_at = now
            continue
        if current is None:
            current = ParShortfall(asset_type=row.asset_type, first_short_at=now, quantity=row.shortfall)
            session.add(current)
        current.quantity = max(current.quantity, row.shortfall)
        if current.requested_at is None and now - current.first_short_at >= purchase_after:
            current.requested_at, current.reason = now, reason(row, current.first_short_at, now).encode()
            publish(session, EquipmentShortfall(
                occurred_at=now, site_code=_site_code(session), asset_type=row.asset_type,
                type_label=row.type_label, quantity=row.shortfall, reason=current.reason,
            ))  # fmt: skip
            requested.append(row.asset_type)
    for gone in open_rows.values():  # the PAR rule itself was removed
        gone.cleared_at = now
    session.flush()
    return requested


def shortfall_views(session: Session, now: datetime, limit: int = 20) -> list[ShortfallView]:
    """Open shortfalls first (oldest first), then the most recently cleared ones."""
    types = TypeLabels.load(session)
    rows = session.scalars(
        select(ParShortfall).order_by(ParShortfall.cleared_at.is_not(None), ParShortfall.cleared_at.desc(),
                                      ParShortfall.first_short_at, ParShortfall.id).limit(limit)
    )  # fmt: skip
    return [_shortfall_view(row, types, now) for row in rows]


def _shortfall_view(row: ParShortfall, types: TypeLabels, now: datetime) -> ShortfallView:
    lasted = duration_text((row.cleared_at or now) - row.first_short_at)
    return ShortfallView(row.asset_type, types.label(row.asset_type), row.quantity, row.first_short_at, lasted,
                         row.requested_at, row.reason, row.cleared_at)  # fmt: skip


def _site_code(session: Session) -> str:
    """The site of the zones with PAR units (one site per tracking install today); "" when it is not one."""
    codes = session.scalars(select(Site.code).join(Zone, Zone.site_id == Site.id).distinct().limit(2)).all()
    return codes[0] if len(codes) == 1 else ""
