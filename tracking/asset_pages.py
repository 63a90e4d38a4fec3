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
import json
from collections.abc import Callable, Sequence
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


def _params(flt: AssetFilter, after_id: int, limit: int) -> dict[str, Any]:
    return {"p_after": after_id, "p_limit": limit + 1, "p_type": flt.asset_type, "p_zone": flt.zone,
            "p_site": flt.site, "p_status": flt.status.value if flt.status is not None else ""}  # fmt: skip


def asset_page(session: Session | FastWork, flt: AssetFilter, after_id: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
    """Up to `limit` assets with id > `after_id` matching `flt`, by id."""
    limit = max(1, min(limit, MAX_LIMIT))
    if not flt.text.strip():  # the common page: one statement compiled once, run on the session's connection
        return _page(FastWork.of(session).all(_prepared(flt), _params(flt, after_id, limit)), limit)
    assert isinstance(session, Session), "a text search builds its statement per call: give it a Session"
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


AGE_MARK = "\x00age\x00"  # where an asset's age goes in a rendered body (JSON escapes a NUL: never in the data)
Render = Callable[[Page], str]  # a page's body, each asset's age written as AGE_MARK


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page's body, built once per content: split at each asset's age, which is written per request."""

    pieces: tuple[str, ...]
    seen: tuple[datetime | None, ...]  # each asset's last hearing, for its age
    etag: str
    last_modified: datetime | None

    @classmethod
    def of(cls, page: Page, render: Render) -> Rendered:
        pieces = tuple(render(page).split(json.dumps(AGE_MARK)))
        if len(pieces) != len(page.assets) + 1:
            raise ValueError("the render must write AGE_MARK once per asset")
        return cls(pieces, tuple(a.last_seen for a in page.assets), page.etag, page.last_modified)

    def body(self, now: datetime) -> str:
        parts = [self.pieces[0]]
        for seen, piece in zip(self.seen, self.pieces[1:], strict=True):
            parts.append("null" if seen is None else str(round((now - seen).total_seconds())))
            parts.append(piece)
        return "".join(parts)


class RenderedPages:
    """The last body built for each page a process was asked for, kept only while the database returns the very
    same rows for it: each request still reads the page (so a change in any process shows at once) and compares
    the rows as read, before any conversion; only when they equal the rows the body was built from is the body
    reused. Bounded: past `max_pages` distinct pages, or `max_rows` rows kept in all, it starts over."""

    def __init__(self, max_pages: int = 256, max_rows: int = 20_000) -> None:
        self.max_pages, self.max_rows = max_pages, max_rows
        self._pages: dict[tuple[Any, ...], tuple[list[Any], Rendered]] = {}
        self._rows = 0

    def page(self, work: FastWork, flt: AssetFilter, after_id: int, limit: int, render: Render) -> Rendered:
        """The page of `asset_page` (no text search), rendered by `render` or reused (see the class)."""
        limit = max(1, min(limit, MAX_LIMIT))
        if flt.text.strip():
            raise ValueError("a text search is not kept: render asset_page's Page")
        params = _params(flt, after_id, limit)
        key = (work.engine.url, tuple(params.values()), render)
        pending = work.send(_prepared(flt), params)
        raw = pending.raw()
        kept = self._pages.get(key)
        if kept is not None and kept[0] == raw:
            return kept[1]
        rendered = Rendered.of(_page(pending.all(), limit), render)
        if len(self._pages) >= self.max_pages or self._rows + len(raw) > self.max_rows:
            self._pages.clear()
            self._rows = 0
        self._pages[key] = (list(raw), rendered)
        self._rows += len(raw)
        return rendered


PAGES = RenderedPages()  # the process's rendered pages (tracking.api's /api/v1/assets)
