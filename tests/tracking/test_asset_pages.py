"""/api/v1/assets pages: a cursor that holds while rows change, the filters, conditional GET, and a query count that
does not grow with the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from core.db import make_engine, make_session_factory, unit_of_work
from core.models import Site
from core.prepared import FastWork, Prepared, fast_unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.tracking.conftest import seed_floor
from tracking import api as tracking_api
from tracking import asset_pages
from tracking.models import Asset, LocationInterval, Tag, Zone

MOVED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _world(app: Flask, extra: int = 0) -> dict[str, str]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        floor = seed_floor(session)
        session.add(Site(code="NORTH", name="North campus"))
        session.flush()
        north = session.scalar(select(Site.id).where(Site.code == "NORTH"))
        session.execute(update(Zone).where(Zone.code == "B").values(site_id=north))
        for n in range(extra):
            tag = Tag(tag_key=f"extra-{n}", last_seen_at=MOVED_AT)
            session.add(tag)
            session.flush()
            zone = floor.zone_ids["A"] if n % 2 else None  # half of them in a room, half unknown
            session.add(Asset(asset_tag=f"X-{n}", name=f"Bed {n}", asset_type="bed", tag_id=tag.id, zone_id=zone,
                              zone_since=MOVED_AT if zone else None))  # fmt: skip
        reader, _ = create_token(session, "reader", [TokenScope.READ])
    return {"Authorization": f"Bearer {reader}"}


def _move(app: Flask, asset_tag: str, zone_code: str, at: datetime = MOVED_AT) -> None:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        zone_id = session.scalar(select(Zone.id).where(Zone.code == zone_code))
        session.execute(update(Asset).where(Asset.asset_tag == asset_tag).values(zone_id=zone_id, zone_since=at))


def test_a_walk_sees_every_asset_once_while_rows_are_added_and_renamed(app: Flask, client: FlaskClient) -> None:
    auth = _world(app, extra=20)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        before = list(session.scalars(select(Asset.id).order_by(Asset.id)))
    seen: list[int] = []
    cursor: str | None = ""
    pages = 0
    while cursor is not None:
        body = client.get(f"/api/v1/assets?limit=7&cursor={cursor}", headers=auth).get_json()
        seen += [a["id"] for a in body["assets"]]
        cursor = body["next_cursor"]
        pages += 1
        if pages == 1:  # between pages: a new asset, a rename that sorts first by name, an asset moved
            with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
                session.add(Asset(asset_tag="NEW-1", name="Aaa new bed", asset_type="bed"))
                session.execute(update(Asset).where(Asset.id == before[-1]).values(name="AAA renamed"))
            _move(app, "A-2", "B")
    assert seen[: len(before)] == before  # every asset there at the start, once, in order
    assert len(seen) == len(before) + 1 and len(set(seen)) == len(seen)  # the new one at the end
    assert pages == 4


def test_filters_narrow_and_bad_values_name_the_field(app: Flask, client: FlaskClient) -> None:
    auth = _world(app, extra=4)
    _move(app, "A-1", "A")
    _move(app, "A-2", "B")

    def tags(query: str) -> list[str]:
        response = client.get(f"/api/v1/assets?{query}", headers=auth)
        assert response.status_code == 200, response.get_json()
        return [a["asset_tag"] for a in response.get_json()["assets"]]

    assert tags("type=infusion_pump") == ["A-1", "A-2"]
    assert tags("zone=B") == ["A-2"]
    assert tags("site=NORTH") == ["A-2"]
    assert tags("status=dirty") == ["A-3"]
    assert tags("q=wheel") == ["A-3"]
    assert tags("q=infusion&zone=A") == ["A-1"]
    assert tags("type=bed&limit=3") == ["X-0", "X-1", "X-2"]
    for query, field in (("status=lost", "status"), ("limit=5000", "limit"), ("cursor=-1", "cursor"),
                         ("type=" + "x" * 80, "type"), ("limit=2.5", "limit")):  # fmt: skip
        response = client.get(f"/api/v1/assets?{query}", headers=auth)
        assert response.status_code == 422, query
        assert response.get_json()["error"]["field"] == field


def test_conditional_get_answers_304_until_the_page_changes(app: Flask, client: FlaskClient) -> None:
    auth = _world(app)
    _move(app, "A-1", "A")
    first = client.get("/api/v1/assets?type=infusion_pump", headers=auth)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('W/"') and modified == "Tue, 01 Dec 2026 09:30:00 GMT"
    same = client.get("/api/v1/assets?type=infusion_pump", headers=auth | {"If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b"" and same.headers["ETag"] == etag
    assert (
        client.get("/api/v1/assets?type=infusion_pump", headers=auth | {"If-Modified-Since": modified}).status_code
        == 304
    )
    other_page = client.get("/api/v1/assets?type=wheelchair", headers=auth | {"If-None-Match": etag})
    assert other_page.status_code == 200

    later = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    _move(app, "A-2", "B", later)
    moved = client.get("/api/v1/assets?type=infusion_pump", headers=auth | {"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert [a["location"]["zone"] for a in moved.get_json()["assets"]] == ["A", "B"]
    by_date = client.get("/api/v1/assets?type=infusion_pump", headers=auth | {"If-Modified-Since": modified})
    assert by_date.status_code == 200 and by_date.headers["Last-Modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"

    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:  # a status change alone
        session.execute(update(Asset).where(Asset.asset_tag == "A-2").values(status="dirty"))
    changed = client.get("/api/v1/assets?type=infusion_pump", headers=auth | {"If-None-Match": moved.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["assets"][1]["status"] == "dirty"


@contextmanager
def _counting(session: Session) -> Iterator[list[str]]:
    """Every statement run: through SQLAlchemy (its events) and prepared ones (core.prepared runs them on the
    DBAPI connection, where no event sees them: counted as they pass FastWork.execute, which still runs them)."""
    statements: list[str] = []
    engine: Any = session.get_bind()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    run = FastWork.execute

    def counted(work: FastWork, prepared: Prepared, params: Any = None) -> Any:
        statements.append(prepared.plan(work.dialect).sql)
        return run(work, prepared, params)

    event.listen(engine, "before_cursor_execute", count)
    FastWork.execute = counted  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        FastWork.execute = run  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_takes_one_query_whatever_its_size(app: Flask) -> None:
    _world(app, extra=300)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:  # old rooms for unknown ones
        for asset_id in session.scalars(select(Asset.id).where(Asset.zone_id.is_(None))):
            session.add(LocationInterval(asset_id=asset_id, zone_id=None, started_at=MOVED_AT))
    counts = {}
    for limit in (5, 50, 300):
        with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
            session.execute(select(1))  # the transaction's BEGIN is not the page's
            with _counting(session) as statements:
                page = asset_pages.asset_page(session, asset_pages.AssetFilter(), 0, limit)
            assert len(page.assets) == limit
            counts[limit] = len(statements)
    assert counts == {5: 1, 50: 1, 300: 1}, counts


def test_an_asset_whose_room_is_unknown_names_the_last_room_it_was_in(app: Flask, client: FlaskClient) -> None:
    auth = _world(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        zones = dict(session.execute(select(Zone.code, Zone.id)).all())
        lost = session.scalar(select(Asset.id).where(Asset.asset_tag == "A-1"))
        session.execute(update(Asset).where(Asset.id == lost).values(zone_id=None))
        for minutes, zone in ((0, zones["A"]), (10, zones["B"]), (20, None)):  # A, then B, then unknown
            session.add(LocationInterval(asset_id=lost, zone_id=zone, started_at=MOVED_AT.replace(minute=minutes)))
    _move(app, "A-2", "A")
    assets = {a["asset_tag"]: a for a in client.get("/api/v1/assets", headers=auth).get_json()["assets"]}
    assert assets["A-1"]["location"]["zone"] is None
    assert assets["A-1"]["location"]["last_zone_name"] == _zone_name(app, "B")
    assert assets["A-2"]["location"]["last_zone_name"] == "", "a located asset names no earlier room"


def _zone_name(app: Flask, code: str) -> str:
    with app.extensions["vendtrack"].session_factory() as session:
        return str(session.scalar(select(Zone.name).where(Zone.code == code)))


def test_a_kept_body_is_reused_only_while_the_rows_are_the_same(app: Flask, client: FlaskClient) -> None:
    """The process keeps the last body of a page, but reads the page on every call: a move committed by another
    process (here: its own engine) is in the very next answer, and the ages are written per request."""
    auth = _world(app)
    url = app.extensions["vendtrack"].settings.database_url
    first = client.get("/api/v1/assets?limit=50", headers=auth)
    engine = app.extensions["vendtrack_engine"]
    with fast_unit_of_work(engine) as work:
        kept = asset_pages.PAGES.page(work, asset_pages.AssetFilter(), 0, 50, tracking_api._render_page)
        assert asset_pages.PAGES.page(work, asset_pages.AssetFilter(), 0, 50, tracking_api._render_page) is kept
    other = make_engine(url)  # another process: nothing it does touches this one's memory
    try:
        with unit_of_work(make_session_factory(other)) as session:
            zone_id = session.scalar(select(Zone.id).where(Zone.code == "B"))
            session.execute(update(Asset).where(Asset.asset_tag == "A-1").values(zone_id=zone_id, zone_since=MOVED_AT))
    finally:
        other.dispose()
    second = client.get("/api/v1/assets?limit=50", headers=auth)
    moved = {a["asset_tag"]: a["location"]["zone"] for a in second.get_json()["assets"]}
    assert moved["A-1"] == "B", "the move shows at the next call"
    assert second.headers["ETag"] != first.headers["ETag"]
    with fast_unit_of_work(engine) as work:
        assert asset_pages.PAGES.page(work, asset_pages.AssetFilter(), 0, 50, tracking_api._render_page) is not kept


def test_a_kept_body_writes_each_age_at_the_time_of_the_request() -> None:
    page = asset_pages.Page((), None)
    heard = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    rendered = asset_pages.Rendered(('{"a":[', ',', ']}'), (heard, None), 'W/"x"', heard)
    assert rendered.body(heard.replace(minute=1)) == '{"a":[60,null]}'
    assert rendered.body(heard.replace(minute=2)) == '{"a":[120,null]}'
    with pytest.raises(ValueError, match="AGE_MARK once per asset"):
        asset_pages.Rendered.of(page, lambda _page: '{"assets":[' + json.dumps(asset_pages.AGE_MARK) + "]}")


def test_kept_pages_are_bounded_by_the_rows_they_hold(app: Flask) -> None:
    _world(app, extra=40)
    pages = asset_pages.RenderedPages(max_rows=60)
    everything = asset_pages.AssetFilter()
    with app.app_context(), fast_unit_of_work(app.extensions["vendtrack_engine"]) as work:
        first = pages.page(work, everything, 0, 30, tracking_api._render_page)
        assert pages.page(work, everything, 0, 30, tracking_api._render_page) is first
        pages.page(work, everything, 0, 40, tracking_api._render_page)  # 31 + 41 rows > 60: it starts over
        assert pages.page(work, everything, 0, 30, tracking_api._render_page) is not first
