"""Pages of assets for /api/v1/assets: filters, a keyset cursor and a validator, in one query a page.

The page is ordered by asset id and continues after the last id it returned (`cursor`), so rows added, moved
or renamed while a client walks the list never shift what the next page holds. One query (compiled once per
set of filters and run on the session's connection, `core.prepared`, unless a text search is given) reads the
assets as named columns with their tag, room, site and type label and, for those whose room is unknown, the last
room each was in (a correlated subquery on the interval index). The validator (`Page.etag`, `Page.last_modified`) is
computed from the rows read, so a conditional GET costs the same queries but no serialisation or transfer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam
from sqlalchemy.orm import Session, aliased

from core.clock import utc
from core.models import Site
from core.prepared import FastWork, Prepared
from tracking.labels import TypeLabels
from tracking.models import Asset, AssetType, Zone
from tracking.services import AssetLocation, located, location_view, text_match
from tracking.states import AssetStatus

MAX_LIMIT = 1000
DEFAULT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """What a page is narrowed to; an empty field does not narrow."""

    asset_type: str = ""  # type code, e.g. infusion_pump
    zone: str = ""  # the room (zone code) it is in now
    site: str = ""  # the site code of the room it is in now
    status: AssetStatus | None = None
    text: str = ""  # in the name, type (code or label), asset tag, serial or tag key


@dataclass(frozen=True, slots=True)
class Page:
    assets: tuple[AssetLocation, ...]
    next_cursor: str | None  # None: this was the last page

    @property
    def etag(self) -> str:
        """A weak validator over everything the page says except the ages derived from the clock."""
        digest = hashlib.blake2b(repr((self.assets, self.next_cursor)).encode(), digest_size=12).hexdigest()
        return f'W/"{digest}"'

    @property
    def last_modified(self) -> datetime | None:
        """The latest room change or hearing among the page's assets (None for an empty page)."""
        moments = [utc(m) for a in self.assets for m in (a.since, a.last_seen) if m is not None]
        return max(moments) if moments else None


# Built once: building the statement cost more than running it for a page of 50.
_SITE = aliased(Site)
_PAGE = located(AssetType.label).outerjoin(AssetType, AssetType.code == Asset.asset_type).order_by(Asset.id)
_PREPARED: dict[tuple[bool, bool, bool, bool], Prepared] = {}  # filters given -> the page's statement, compiled once


def _prepared(flt: AssetFilter) -> Prepared:
    """The page's statement for the filters `flt` gives (not text: its LIKE is built per search), every value a
    parameter: p_after, p_limit, p_type, p_zone, p_site, p_status."""
    key = (bool(flt.asset_type), bool(flt.zone), bool(flt.site), flt.status is not None)
    found = _PREPARED.get(key)
    if found is None:
        query = _PAGE.where(Asset.id > bindparam("p_after")).limit(bindparam("p_limit", type_=Integer))
        if flt.asset_type:
            query = query.where(Asset.asset_type == bindparam("p_type"))
        if flt.zone:
            query = query.where(Zone.code == bindparam("p_zone"))
        if flt.site:
            query = query.join(_SITE, Zone.site_id == _SITE.id).where(_SITE.code == bindparam("p_site"))
        if flt.status is not None:
            query = query.where(Asset.status == bindparam("p_status"))
        found = _PREPARED[key] = Prepared(query)
    return found


def asset_page(session: Session, flt: AssetFilter, after_id: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
    """Up to `limit` assets with id > `after_id` matching `flt`, by id."""
    limit = max(1, min(limit, MAX_LIMIT))
    if not flt.text.strip():  # the common page: one statement compiled once, run on the session's connection
        params = {"p_after": after_id, "p_limit": limit + 1, "p_type": flt.asset_type, "p_zone": flt.zone,
                  "p_site": flt.site, "p_status": flt.status.value if flt.status is not None else ""}  # fmt: skip
        return _page(FastWork.of(session).all(_prepared(flt), params), limit)
    query = _PAGE.where(Asset.id > after_id).limit(limit + 1)  # one more tells whether there is a next page
    if flt.asset_type:
        query = query.where(Asset.asset_type == flt.asset_type)
    if flt.zone:
        query = query.where(Zone.code == flt.zone)
    if flt.site:
        query = query.join(_SITE, Zone.site_id == _SITE.id).where(_SITE.code == flt.site)
    if flt.status is not None:
        query = query.where(Asset.status == flt.status.value)
    if flt.text.strip():
        query = query.where(text_match(flt.text.strip()))
    return _page(session.execute(query).all(), limit)


def _page(rows: Sequence[Sequence[Any]], limit: int) -> Page:
    more, rows = len(rows) > limit, rows[:limit]
    types = TypeLabels({row[3]: (row[-1], "") for row in rows if row[-1]})
    found = tuple(location_view(row, types) for row in rows)
    return Page(found, str(found[-1].id) if more and found else None)
