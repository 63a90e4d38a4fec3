"""Names people read instead of codes: asset type labels ("Infusion pump"), their plurals, room names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.states import humanise
from tracking.models import AssetType, Zone


class TypeLabels:
    """Asset type code -> label and plural, from tracking_asset_type; an unlisted code is humanised."""

    def __init__(self, rows: dict[str, tuple[str, str]]) -> None:
        self._rows = rows

    @classmethod
    def load(cls, session: Session) -> TypeLabels:
        return cls({t.code: (t.label, t.plural) for t in session.scalars(select(AssetType))})

    def label(self, code: str) -> str:
        found = self._rows.get(code)
        return found[0] if found else humanise(code)

    def plural(self, code: str) -> str:
        found = self._rows.get(code)
        if found and found[1]:
            return found[1]
        return self.label(code) + "s"


def room_names(session: Session) -> dict[str, str]:
    """Zone code -> room name."""
    return dict(session.execute(select(Zone.code, Zone.name)).all())
