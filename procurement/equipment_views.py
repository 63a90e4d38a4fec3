"""Equipment request actions on the purchase order queue: order an open request after a fix, or dismiss it."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.wrappers import Response

from core import access
from core.errors import NotFound
from core.texts import N_
from core.validation import Text, one
from procurement import equipment
from procurement.views import BUYERS, _actor, _db, _services, bp

MAX_ID = 2**31 - 1  # the id column is an INTEGER: a larger number in the path names no request


def _request_id(raw: int) -> int:
    if not 1 <= raw <= MAX_ID:
        raise NotFound(lazy_gettext("no equipment request %(raw)s", raw=raw), field="request")
    return raw


NOTE = Text(max_length=500, required=True, multiline=True, hint=N_("two pumps are back from repair"))


@bp.post("/equipment/<int:request_id>/order")
@access.roles(*BUYERS)
def equipment_order(request_id: int) -> Response:
    """Order an open request now (its item and supplier offer fixed): a submitted PO the approval rules judge."""
    session = _db()
    po_number = equipment.order(session, _request_id(request_id), _actor(), _services().clock)
    session.commit()
    flash(
        gettext(
            "equipment request %(request_id)s ordered on %(po_number)s", request_id=request_id, po_number=po_number
        ),
        "ok",
    )
    return redirect(url_for("procurement.po_view", po_number=po_number))


@bp.post("/equipment/<int:request_id>/dismiss")
@access.roles(*BUYERS)
def equipment_dismiss(request_id: int) -> Response:
    note = one(NOTE, "note", request.form.get("note"))
    session = _db()
    equipment.dismiss(session, _request_id(request_id), note, _actor(), _services().clock)
    session.commit()
    flash(gettext("equipment request %(request_id)s dismissed", request_id=request_id), "ok")
    return redirect(url_for("procurement.queue_view") + "#equipment-requests")
