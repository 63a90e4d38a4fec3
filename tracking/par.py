"""PAR levels per unit and asset type: how many are available now against the PAR level, and whether below, at
or above it."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext, ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracking.labels import TypeLabels
from tracking.models import Asset, ParRule
from tracking.recording import available_count


@dataclass(frozen=True, slots=True)
class ParRow:
    unit: str
    asset_type: str
    type_label: str
    minimum: int
    available: int
    total: int

    @property
    def short(self) -> bool:
        return self.available < self.minimum

    @property
    def level(self) -> str:
        """'below', 'at' or 'above' PAR."""
        if self.available < self.minimum:
            return "below"
        return "at" if self.available == self.minimum else "above"

    @property
    def level_text(self) -> str:
        gap = self.available - self.minimum
        if gap < 0:
            return ngettext("%(num)s below PAR", "%(num)s below PAR", -gap)
        return gettext("at PAR") if gap == 0 else ngettext("%(num)s above PAR", "%(num)s above PAR", gap)

    @property
    def tone(self) -> str:
        return {"below": "bad", "at": "warn", "above": "good"}[self.level]


def par_dashboard(session: Session) -> list[ParRow]:
    types = TypeLabels.load(session)
    rows = []
    for rule in session.scalars(select(ParRule).order_by(ParRule.unit, ParRule.asset_type)):
        total = session.scalar(
            select(func.count(Asset.id)).where(Asset.unit == rule.unit, Asset.asset_type == rule.asset_type)
        )
        available = available_count(session, rule.unit, rule.asset_type)
        label = types.label(rule.asset_type)
        rows.append(ParRow(rule.unit, rule.asset_type, label, rule.minimum, available, int(total or 0)))
    return rows
