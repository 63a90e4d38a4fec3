"""Setup pages under /tracking/setup: zones per building and floor with their gateways, edited on a live floor map.

Admins change zones and gateways here; staff who can locate equipment may look. Every change is audited
and the running location engine reloads its floor after the commit (`pipeline.floor_changed`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from core import access
from core.errors import DomainError
from core.roles import Role
from tracking import setup_admin
from tracking.floorplan import ZONE_KINDS
from tracking.pipeline import floor_changed
from tracking.setup import export_setup
from tracking.setup_input import OFFSET_RANGE_DB, SetupInvalid, gateway_input, zone_input
from tracking.views import ago

bp = Blueprint("tracking_setup", __name__, url_prefix="/tracking/setup", template_folder="templates")
ADMIN = access.roles(Role.ADMIN)
VIEWERS = access.roles(Role.STAFF, Role.ADMIN)  # the same people who may use the locate page
ZONE_FIELDS = ("code", "name", "building", "floor", "kind", "polygon", "max_radius_m", "unit", "fod_limit_min")
GATEWAY_FIELDS = ("gateway_id", "zone", "x", "y", "offset_db")


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _clock() -> Any:
    return current_app.extensions["vendtrack"].clock


def _actor() -> str:
    return str(g.principal.actor)


def _committed(message: str, warning: str = "") -> None:
    """Commit, tell the engine of this process, and say what happened."""
    _db().commit()
    floor_changed(current_app.extensions["vendtrack"])
    flash(message, "info")
    if warning:
        flash(str(warning), "error")  # str(): a lazy text would come back from the session as safe markup


def _number_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@bp.route("/")
@VIEWERS
def setup_index() -> Any:
    session = _db()
    return render_template(
        "tracking/setup.html",
        groups=setup_admin.floor_groups(session),
        floor_data=setup_admin.map_data(session),
        can_edit=Role.ADMIN.value in g.principal.roles,
        ago=ago,
        now=_clock().now(),
    )


@bp.route("/export.json")
@ADMIN
def export() -> Response:
    body = json.dumps(export_setup(_db()), indent=2) + "\n"
    stamp = _clock().now().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="tracking-setup-{stamp}.json"'},
    )


# ---- zones ---------------------------------------------------------------------------------------


def _zone_page(form: Mapping[str, str], errors: Mapping[str, str], zone_id: int | None, status: int = 200) -> Any:
    session = _db()
    zone = setup_admin.get_zone(session, zone_id) if zone_id is not None else None
    return render_template(
        "tracking/zone_form.html",
        zone=zone,
        form=form,
        errors=errors,
        kinds=ZONE_KINDS,
        floor_data=setup_admin.map_data(session),
        ago=ago,
        now=_clock().now(),
    ), status


def _zone_form_of(row: setup_admin.ZoneRow) -> dict[str, str]:
    values = {name: str(getattr(row, name)) for name in ZONE_FIELDS if name not in ("max_radius_m", "fod_limit_min")}
    fod = "" if row.fod_limit_min is None else str(row.fod_limit_min)
    return values | {"max_radius_m": _number_text(row.max_radius_m), "fod_limit_min": fod}


@bp.route("/zones/new")
@ADMIN
def zone_new() -> Any:
    form = {"kind": "room", "building": request.args.get("building", ""), "floor": request.args.get("floor", "")}
    return _zone_page(form, {}, None)


@bp.route("/zones/new", methods=["POST"])
@ADMIN
def zone_create() -> Any:
    form = {name: request.form.get(name, "") for name in ZONE_FIELDS}
    try:
        saved = setup_admin.save_zone(_db(), zone_input(form), _actor(), _clock())
    except SetupInvalid as exc:
        return _zone_page(form, exc.errors, None, 422)
    _committed(gettext("Zone %(code)s created. Add its gateways next.", code=form["code"].strip()))
    return redirect(url_for("tracking_setup.zone_edit", zone_id=saved.id))


@bp.route("/zones/<int:zone_id>")
@ADMIN
def zone_edit(zone_id: int) -> Any:
    return _zone_page(_zone_form_of(setup_admin.get_zone(_db(), zone_id)), {}, zone_id)


@bp.route("/zones/<int:zone_id>", methods=["POST"])
@ADMIN
def zone_update(zone_id: int) -> Any:
    setup_admin.get_zone(_db(), zone_id)  # 404 before looking at the form
    form = {name: request.form.get(name, "") for name in ZONE_FIELDS}
    try:
        saved = setup_admin.save_zone(_db(), zone_input(form), _actor(), _clock(), zone_id)
    except SetupInvalid as exc:
        return _zone_page(form, exc.errors, zone_id, 422)
    if saved.changed:
        _committed(gettext("Zone %(code)s saved.", code=form["code"].strip()))
    else:
        flash(gettext("Nothing changed."), "info")
    return redirect(url_for("tracking_setup.zone_edit", zone_id=zone_id))


@bp.route("/zones/<int:zone_id>/delete", methods=["POST"])
@ADMIN
def zone_delete(zone_id: int) -> Any:
    session = _db()
    try:
        code = setup_admin.delete_zone(session, zone_id, _actor(), _clock())
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(str(exc.message), "error")
        return _zone_page(_zone_form_of(setup_admin.get_zone(session, zone_id)), {}, zone_id, exc.status)
    _committed(gettext("Zone %(code)s deleted.", code=code))
    return redirect(url_for("tracking_setup.setup_index"))


# ---- gateways ------------------------------------------------------------------------------------


def _gateway_page(form: Mapping[str, str], errors: Mapping[str, str], gateway_pk: int | None, status: int = 200) -> Any:
    session = _db()
    gateway = setup_admin.get_gateway(session, gateway_pk) if gateway_pk is not None else None
    return render_template(
        "tracking/gateway_form.html",
        gateway=gateway,
        form=form,
        errors=errors,
        zones=setup_admin.zone_rows(session),
        offset_range=OFFSET_RANGE_DB,
        floor_data=setup_admin.map_data(session),
        ago=ago,
        now=_clock().now(),
    ), status


@bp.route("/gateways/new")
@ADMIN
def gateway_new() -> Any:
    return _gateway_page({"zone": request.args.get("zone", ""), "offset_db": "0"}, {}, None)


@bp.route("/gateways/new", methods=["POST"])
@ADMIN
def gateway_create() -> Any:
    form = {name: request.form.get(name, "") for name in GATEWAY_FIELDS}
    try:
        saved = setup_admin.save_gateway(_db(), gateway_input(form), _actor(), _clock())
    except SetupInvalid as exc:
        return _gateway_page(form, exc.errors, None, 422)
    _committed(gettext("Gateway %(gateway_id)s added to %(zone)s.", gateway_id=form["gateway_id"].strip(),
                       zone=form["zone"].strip()), saved.warning)  # fmt: skip
    return redirect(url_for("tracking_setup.gateway_edit", gateway_pk=saved.id))


@bp.route("/gateways/<int:gateway_pk>")
@ADMIN
def gateway_edit(gateway_pk: int) -> Any:
    row = setup_admin.get_gateway(_db(), gateway_pk)
    form = {"gateway_id": row.gateway_id, "zone": row.zone, "x": f"{row.x:g}", "y": f"{row.y:g}"}
    return _gateway_page(form | {"offset_db": f"{row.offset_db:g}"}, {}, gateway_pk)


@bp.route("/gateways/<int:gateway_pk>", methods=["POST"])
@ADMIN
def gateway_update(gateway_pk: int) -> Any:
    setup_admin.get_gateway(_db(), gateway_pk)
    form = {name: request.form.get(name, "") for name in GATEWAY_FIELDS}
    try:
        saved = setup_admin.save_gateway(_db(), gateway_input(form), _actor(), _clock(), gateway_pk)
    except SetupInvalid as exc:
        return _gateway_page(form, exc.errors, gateway_pk, 422)
    if saved.changed:
        _committed(gettext("Gateway %(gateway_id)s saved.", gateway_id=form["gateway_id"].strip()), saved.warning)
    else:
        flash(gettext("Nothing changed."), "info")
    return redirect(url_for("tracking_setup.gateway_edit", gateway_pk=gateway_pk))


@bp.route("/gateways/<int:gateway_pk>/delete", methods=["POST"])
@ADMIN
def gateway_delete(gateway_pk: int) -> Any:
    row = setup_admin.delete_gateway(_db(), gateway_pk, _actor(), _clock())
    _committed(gettext("Gateway %(gateway_id)s deleted from %(zone)s.", gateway_id=row.gateway_id, zone=row.zone))
    return redirect(url_for("tracking_setup.zone_edit", zone_id=row.zone_id))
