"""The central server's fleet page: every edge with its contact, configuration lag, backlog, devices and alerts.

Admins create an edge (and read its one-time enrolment code once), issue a new code, or revoke an edge. The
same figures are in /healthz under "fleet" (web.fleet_plugin.health).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from core import access, fleet_central
from core.fleet_models import FleetOverrun
from core.models import Site
from core.roles import Role
from core.validation import Int, one
from web.auth import require_principal
from web.session import db, services

bp = Blueprint("fleet", __name__, url_prefix="/admin/fleet", template_folder="templates")


def thresholds() -> tuple[float, float]:
    extra = services().settings.extra
    return float(extra.get("fleet_silent_seconds", 120.0)), float(extra.get("fleet_behind_seconds", 300.0))


def _page(new_code: str = "", new_edge: str = "") -> str:

    session = db()
    silent, behind = thresholds()
    version, edges = fleet_central.overview(session, services().clock.now(), silent, behind)
    overruns = session.scalars(select(FleetOverrun).order_by(FleetOverrun.id.desc()).limit(100)).all()
    sites = session.scalars(select(Site.code).order_by(Site.code)).all()
    return render_template("admin/fleet.html", version=version, edges=edges, overruns=overruns, sites=sites,
                           new_code=new_code, new_edge=new_edge, silent=silent, behind=behind)  # fmt: skip


@bp.route("/")
@access.roles(Role.ADMIN)
def fleet_page() -> Any:
    return _page()


@bp.route("/", methods=["POST"])
@access.roles(Role.ADMIN)
def edge_create() -> Any:
    session = db()
    edge, code = fleet_central.create_edge(
        session, request.form.get("name", "")[:100], request.form.get("site", "")[:64],
        request.form.get("machines", "")[:1000], require_principal().actor, services().clock.now(),
    )  # fmt: skip
    session.commit()
    return _page(new_code=code, new_edge=edge.name)


@bp.route("/<int:edge_id>/code", methods=["POST"])
@access.roles(Role.ADMIN)
def edge_code(edge_id: int) -> Any:
    session = db()
    edge_id = one(Int(1, 2**31), "edge", edge_id)
    code = fleet_central.new_enrolment_code(session, edge_id, require_principal().actor, services().clock.now())
    name = session.get(fleet_central.FleetEdge, edge_id)
    session.commit()
    return _page(new_code=code, new_edge=name.name if name else "")


@bp.route("/<int:edge_id>/revoke", methods=["POST"])
@access.roles(Role.ADMIN)
def edge_revoke(edge_id: int) -> Any:
    session = db()
    fleet_central.revoke(session, edge_id, request.form.get("reason", "")[:300], require_principal().actor,
                         services().clock.now())  # fmt: skip
    session.commit()
    return _page()
