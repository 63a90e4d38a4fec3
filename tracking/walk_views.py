"""The guided calibration walk pages (phone first): pick the tag you carry, tap each room, finish, apply or discard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from core import access
from core.roles import Role
from core.validation import Schema, Text
from tracking import walk
from tracking.models import Asset, Tag, Zone
from tracking.pipeline import TrackingSettings, floor_changed
from tracking.views import _db, _now, ago

bp = Blueprint("tracking_walk", __name__, url_prefix="/tracking/walk", template_folder="templates")
WALKERS = (Role.ADMIN,)  # calibration changes every room's answer: administrators (clinical engineering) only
HEARD_LATELY_S = 120  # the start page offers the tags heard this recently
START = Schema({"tag_key": Text.column(Tag.tag_key, required=True)})
MARK = Schema({"zone": Text.column(Zone.code, required=True)})


def _clock() -> Any:
    return current_app.extensions["vendtrack"].clock


def _settings() -> TrackingSettings:
    return TrackingSettings.from_extra(current_app.extensions["vendtrack"].settings.extra)


def _heard_lately(session: Any, now: Any) -> list[tuple[str, str]]:
    """(tag key, label) of tags heard in the last two minutes, the most recent first (at most 20)."""
    rows = session.execute(
        select(Tag.tag_key, Asset.name, Asset.asset_tag)
        .outerjoin(Asset, Asset.tag_id == Tag.id)
        .where(Tag.last_seen_at >= now - timedelta(seconds=HEARD_LATELY_S))
        .order_by(Tag.last_seen_at.desc())
        .limit(20)
    )
    return [(key, f"{name} ({asset_tag})" if name else key) for key, name, asset_tag in rows]


@bp.get("/")
@access.roles(*WALKERS)
def walk_home() -> Any:
    """Resume your open walk, or start one."""
    session, now = _db(), _now()
    mine = walk.open_walk_of(session, g.principal.actor)
    if mine is not None:
        return redirect(url_for("tracking_walk.walk_page", walk_id=mine))
    return render_template("tracking/walk_start.html", heard=_heard_lately(session, now), recent=walk.recent(session),
                           ago=ago, now=now)  # fmt: skip


@bp.post("/start")
@access.roles(*WALKERS)
def walk_start() -> Any:
    values = START.parse(request.form)
    session = _db()
    walk_id = walk.start(session, values["tag_key"], g.principal.actor, _clock())
    session.commit()
    return redirect(url_for("tracking_walk.walk_page", walk_id=walk_id))


@bp.get("/<int:walk_id>")
@access.roles(*WALKERS)
def walk_page(walk_id: int) -> Any:
    session, now = _db(), _now()
    found = walk.view(session, walk_id)
    query = select(Zone.code, Zone.name).where(Zone.kind != "corridor").order_by(Zone.building, Zone.floor, Zone.name)
    rooms = [(code, name) for code, name in session.execute(query)]
    names = dict(session.execute(select(Zone.code, Zone.name)).all())
    return render_template("tracking/walk.html", walk=found, rooms=rooms, names=names,
                           mine=found.started_by == g.principal.actor, last=found.marks[-1] if found.marks else None,
                           deadline_s=round(_settings().walk_deadline_s), ago=ago, now=now)  # fmt: skip


@bp.post("/<int:walk_id>/mark")
@access.roles(*WALKERS)
def walk_mark(walk_id: int) -> Any:
    values = MARK.parse(request.form)
    session = _db()
    walk.mark(session, walk_id, values["zone"], g.principal.actor, _clock())
    session.commit()
    return redirect(url_for("tracking_walk.walk_page", walk_id=walk_id))


@bp.post("/<int:walk_id>/finish")
@access.roles(*WALKERS)
def walk_finish(walk_id: int) -> Any:
    session = _db()
    walk.finish(session, walk_id, g.principal.actor, _clock(), deadline_s=_settings().walk_deadline_s)
    session.commit()
    return redirect(url_for("tracking_walk.walk_page", walk_id=walk_id))


@bp.post("/<int:walk_id>/apply")
@access.roles(*WALKERS)
def walk_apply(walk_id: int) -> Any:
    session = _db()
    changed = walk.apply(session, walk_id, g.principal.actor, _clock())
    session.commit()
    floor_changed(current_app.extensions["vendtrack"])
    flash(gettext("Applied: %(changed)s gateway offsets and room radii changed.", changed=changed), "info")
    return redirect(url_for("tracking_walk.walk_page", walk_id=walk_id))


@bp.post("/<int:walk_id>/discard")
@access.roles(*WALKERS)
def walk_discard(walk_id: int) -> Any:
    session = _db()
    walk.discard(session, walk_id, g.principal.actor, _clock())
    session.commit()
    flash(gettext("Walk discarded: nothing was changed."), "info")
    return redirect(url_for("tracking_walk.walk_home"))
