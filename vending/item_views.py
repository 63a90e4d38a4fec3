"""Item pages for vending: the list with each item's picture, the picture upload, and the picture itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from core import access
from core.errors import NotFound
from core.models import Item
from core.roles import ALL_ROLES, Role
from vending import pictures
from vending.admin_views import actor, db, now, saved

bp = Blueprint("vending_items", __name__, url_prefix="/vending")


@bp.route("/items")
@access.roles(Role.ADMIN)
def item_list() -> Any:
    session = db()
    items = session.scalars(select(Item).order_by(Item.sku)).all()
    return render_template(
        "vending/items.html", items=items, pictures=pictures.with_pictures(session, {i.id for i in items})
    )


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def item_detail(item_id: int) -> Any:
    session = db()
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(lazy_gettext("no item with id %(item_id)s", item_id=item_id), field="item_id")
    if request.method == "POST":
        if request.form.get("remove"):
            pictures.remove(session, item.id, actor())
            removed = gettext("Picture of %(sku)s removed.", sku=item.sku)
            return saved(removed, "vending_items.item_detail", item_id=item.id)
        upload = request.files.get("picture")
        data = upload.read(pictures.MAX_UPLOAD_BYTES + 1) if upload else b""
        pictures.store(session, item.id, data, actor(), now())
        return saved(gettext("Picture of %(sku)s saved.", sku=item.sku), "vending_items.item_detail", item_id=item.id)
    found = pictures.with_pictures(session, {item.id})
    return render_template(
        "vending/item.html", item=item, picture=found.get(item.id), max_mb=pictures.MAX_UPLOAD_BYTES // (1024 * 1024)
    )


@bp.route("/items/<int:item_id>/picture")
@access.roles(*ALL_ROLES)
def item_picture(item_id: int) -> Any:
    return picture_response(item_id)


def picture_response(item_id: int) -> Any:
    """The stored (re-encoded) picture with its type, never sniffed, cached until it changes (ETag)."""
    picture = pictures.load(db(), item_id)
    response = Response(picture.data, mimetype=picture.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="item-{item_id}.webp"'
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.set_etag(picture.etag)
    return response.make_conditional(request)
