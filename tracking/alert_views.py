"""Alert pages: the work list (live, snoozed, resolved, mine), one alert with its history and the actions its
state allows, and the admin's per-site routing table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from core import access
from core.errors import Conflict, DomainError, NotFound
from core.models import Site
from core.roles import Role
from tracking import alert_routing, alert_work, alerts
from tracking.states import AlertKind
from tracking.views import ago

bp = Blueprint("tracking_alerts", __name__, url_prefix="/tracking/alerts", template_folder="templates")
STAFF = (Role.STAFF, Role.ADMIN)
LISTS = {
    "live": lazy_gettext("Needs attention"),
    "mine": lazy_gettext("Assigned to me"),
    "snoozed": lazy_gettext("Snoozed"),
    "resolved": lazy_gettext("Resolved"),
}
SNOOZE_CHOICES = [
    (15, lazy_gettext("15 minutes")),
    (60, lazy_gettext("1 hour")),
    (240, lazy_gettext("4 hours")),
    (480, lazy_gettext("8 hours")),
    (1440, lazy_gettext("24 hours")),
]
BUTTONS = {"acknowledge": "Acknowledge", "assign": "Assign", "snooze": "Snooze", "resolve": "Resolve"}


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


def _clock() -> Any:
    return current_app.extensions["vendtrack"].clock


def _worker() -> alert_work.Worker:
    principal = g.principal
    return alert_work.Worker(principal.actor, principal.roles, principal.id if principal.kind == "user" else None)


@bp.route("", strict_slashes=False)
@access.roles(*STAFF)
def alert_list() -> Any:
    session, now = _db(), _clock().now()
    show = request.args.get("show", "live")
    if show not in LISTS:
        flash(
            gettext("unknown list %(show)s: showing %(list)s", show=repr(show), list=str(LISTS["live"])), "error"
        )
        show = "live"
    worker = _worker()
    found = alerts.list_alerts(session, worker.roles, now, show, worker.user_id)
    return render_template(
        "tracking/alerts.html", alerts=found, show=show, lists=LISTS, counts=alerts.counts(session, worker.roles, now),
        ago=ago, now=now, buttons=BUTTONS,
    )  # fmt: skip


def _detail(alert_id: int, status: int = 200, error: DomainError | None = None) -> Any:
    session, now = _db(), _clock().now()
    found = alerts.get_alert(session, alert_id, now)
    worker = _worker()
    if found is None or not alerts.may_see(session, found[0], worker.roles):
        raise NotFound(
            lazy_gettext("alert %(alert_id)s does not exist or is not routed to your role", alert_id=alert_id),
            field="alert_id",
        )
    view = found[0]
    page = render_template(
        "tracking/alert.html", alert=view, history=alerts.history(session, alert_id), ago=ago, now=now,
        users=alert_work.assignable_users(session, alert_id, now), snooze_choices=SNOOZE_CHOICES, buttons=BUTTONS,
        error=error, form=request.form if error else {},
    )  # fmt: skip
    return page, status


@bp.route("/<int:alert_id>")
@access.roles(*STAFF)
def alert_detail(alert_id: int) -> Any:
    return _detail(alert_id)


def _int(name: str, text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise DomainError(
            lazy_gettext("%(name)s must be a whole number; pick one from the list", name=name), field=name
        ) from None


def _snooze_until(now: datetime) -> datetime:
    """From the form: `until` (YYYY-MM-DDTHH:MM, UTC) when given, else `minutes` from now."""
    until = (request.form.get("until") or "").strip()
    if until:
        try:
            return datetime.strptime(until, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
        except ValueError:
            raise DomainError(
                lazy_gettext("give the time as YYYY-MM-DD HH:MM (UTC), or pick a duration"), field="until"
            ) from None
    minutes = _int("minutes", request.form.get("minutes"))
    if minutes not in {m for m, _ in SNOOZE_CHOICES}:
        raise DomainError(lazy_gettext("pick a snooze duration from the list"), field="minutes")
    return now + timedelta(minutes=minutes)


@bp.route("/<int:alert_id>/<action>", methods=["POST"])
@access.roles(*STAFF)
def alert_action(alert_id: int, action: str) -> Any:
    session, clock, worker = _db(), _clock(), _worker()
    try:
        if action == "acknowledge":
            alert_work.acknowledge(session, alert_id, worker, clock)
            done = gettext("Acknowledged.")
        elif action == "assign":
            alert_work.assign(session, alert_id, _int("assignee_id", request.form.get("assignee_id")), worker, clock)
            done = gettext("Assigned.")
        elif action == "snooze":
            until = _snooze_until(clock.now())
            alert_work.snooze(session, alert_id, until, worker, clock)
            done = gettext("Snoozed until %(until)s UTC.", until=format(until, "%Y-%m-%d %H:%M"))
        elif action == "resolve":
            alert_work.resolve(session, alert_id, request.form.get("note", ""), worker, clock)
            done = gettext("Resolved.")
        else:
            raise NotFound(
                lazy_gettext(
                    "unknown action %(action)s: use one of %(buttons)s", action=repr(action), buttons=", ".join(BUTTONS)
                ),
                field="action",
            )
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, NotFound) or exc.status == 403:
            raise
        return _detail(alert_id, 409 if isinstance(exc, Conflict) else 422, exc)
    session.commit()
    flash(done, "info")
    back = request.form.get("back")
    if back in LISTS:
        return redirect(url_for("tracking_alerts.alert_list", show=back))
    return redirect(url_for("tracking_alerts.alert_detail", alert_id=alert_id))


@bp.route("/routing", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def routing() -> Any:
    session = _db()
    sites = list(session.scalars(select(Site).order_by(Site.name)))
    if not sites:
        return render_template("tracking/alert_routing.html", sites=[], site=None, routes={}, kinds=list(AlertKind),
                               roles=alert_routing.ROUTABLE_ROLES)  # fmt: skip
    site_id = _int("site", request.values.get("site")) if request.values.get("site") else sites[0].id
    site = next((s for s in sites if s.id == site_id), None)
    if site is None:
        raise NotFound(
            lazy_gettext("site %(site_id)s does not exist: pick one from the list", site_id=site_id), field="site"
        )
    if request.method == "POST":
        chosen: dict[AlertKind, list[Role]] = {}
        for kind in AlertKind:
            picked = request.form.getlist(kind.value)
            unknown = [p for p in picked if p not in {r.value for r in alert_routing.ROUTABLE_ROLES}]
            if unknown:
                raise DomainError(
                    lazy_gettext(
                        "%(label)s: unknown role %(unknown)s", label=kind.label, unknown=repr(unknown[0][:40])
                    ),
                    field=kind.value,
                )
            chosen[kind] = [Role(p) for p in picked]
        alert_routing.set_routes(session, site.id, chosen, g.principal.actor, _clock())
        session.commit()
        flash(gettext("Alert routing for %(name)s saved.", name=site.name), "info")
        return redirect(url_for("tracking_alerts.routing", site=site.id))
    return render_template(
        "tracking/alert_routing.html", sites=sites, site=site, routes=alert_routing.routes_for(session, site.id),
        kinds=list(AlertKind), roles=alert_routing.ROUTABLE_ROLES,
    )  # fmt: skip
