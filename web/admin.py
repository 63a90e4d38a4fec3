"""Administration pages: users and roles, device/gateway tokens, outbox dead letters, the audit log."""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from werkzeug.wrappers import Response

from core import access, audit, masters, notes, outbox, throttle, users
from core.csv_cells import defused
from core.errors import DomainError
from core.passwords import MIN_LENGTH
from core.roles import Role, TokenScope
from core.texts import N_
from core.validation import Day, Int, Text, ValidationError, schema
from web.auth import require_principal
from web.i18n import site_zone
from web.session import READ_FACTORY, db, read_db, services

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(status: int = 200) -> Any:
    return render_template(
        "admin/users.html",
        users=users.list_users(db()),
        roles=list(Role),
        lockouts=throttle.lockouts(db(), services().clock.now()),
        min_length=MIN_LENGTH,
    ), status


@bp.route("/users")
@access.roles(Role.ADMIN)
def user_list() -> Any:
    return _users_page()


@bp.route("/users", methods=["POST"])
@access.roles(Role.ADMIN)
def user_create() -> Any:
    form = request.form
    try:
        roles = [Role.parse(r) for r in form.getlist("roles")]
        users.create_user(
            db(),
            form.get("username", ""),
            form.get("password", ""),
            roles,
            display_name=form.get("display_name", ""),
            email=form.get("email", ""),
            actor=require_principal().actor,
            clock=services().clock,
        )
    except (ValueError, users.UserError) as exc:
        db().rollback()
        flash(str(exc), "error")
        return _users_page(400)
    db().commit()
    flash(gettext("User %(username)s created.", username=form.get("username")), "info")
    return redirect(url_for("admin.user_list"))


def _tokens_page(new_token: str | None = None, status: int = 200) -> Any:
    sites = masters.list_sites(db())
    return render_template(
        "admin/tokens.html",
        tokens=users.list_tokens(db()),
        scopes=list(TokenScope),
        sites=sites,
        site_codes={s.id: s.code for s in sites},
        new_token=new_token,
    ), status


@bp.route("/tokens")
@access.roles(Role.ADMIN)
def token_list() -> Any:
    return _tokens_page()


@bp.route("/tokens", methods=["POST"])
@access.roles(Role.ADMIN)
def token_create() -> Any:
    try:
        scopes = [TokenScope.parse(s) for s in request.form.getlist("scopes")]
        name = request.form.get("name", "").strip()
        if not name:
            raise users.UserError(gettext("give the token a name, such as the gateway or machine it is for"))
        if len(name) > 100:
            raise users.UserError(gettext("the token name is longer than 100 characters: shorten it"))
        site_id = _site_id(request.form.get("site", ""))
        plain, _view = users.create_token(
            db(), name, scopes, site_id=site_id, actor=require_principal().actor, clock=services().clock
        )
    except (ValueError, users.UserError, DomainError) as exc:
        db().rollback()
        flash(exc.message if isinstance(exc, DomainError) else str(exc), "error")
        return _tokens_page(status=400)
    db().commit()
    return _tokens_page(new_token=plain)


def _site_id(code: str) -> int | None:
    if not code.strip():
        return None
    return masters.get_site(db(), code.strip()).id


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@access.roles(Role.ADMIN)
def token_revoke(token_id: int) -> Any:
    try:
        users.revoke_token(db(), token_id, actor=require_principal().actor, clock=services().clock)
    except users.UserError:  # no such token (a stale page, a hand-made request); its message names the CLI
        db().rollback()
        flash(gettext("no token with id %(token_id)s: pick one from the list below", token_id=token_id), "error")
        return _tokens_page(status=404)
    db().commit()
    flash(gettext("Token revoked."), "info")
    return redirect(url_for("admin.token_list"))


@bp.route("/outbox")
@access.roles(Role.ADMIN)
def outbox_view() -> str:
    session = db()
    return render_template(
        "admin/outbox.html",
        dead=outbox.dead_letters(session),
        backlog=outbox.backlog(session, services().consumers),
        consumers=services().consumers.names(),
        per_consumer=outbox.consumer_backlogs(session, services().consumers),
        upstream=services().settings.upstream_url,
    )


@bp.route("/outbox/retry", methods=["POST"])
@access.roles(Role.ADMIN)
def outbox_retry() -> Response:
    count = outbox.retry_dead_letters(db(), services().clock)
    audit.record(
        db(),
        require_principal().actor,
        "outbox.retry_dead_letters",
        "outbox",
        "*",
        after={"count": count},
        clock=services().clock,
    )
    db().commit()
    flash(
        ngettext("%(num)s dead letter sent back for delivery.", "%(num)s dead letters sent back for delivery.", count),
        "info",
    )
    return redirect(url_for("admin.outbox_view"))


AUDIT_PAGE = 100  # entries a page of the audit log shows; "Older entries" reads the next
AUDIT_FILTERS = schema(
    who=Text(max_length=100, hint=N_("a user name, e.g. alice")),
    what=Text(max_length=100, hint=N_("an action, e.g. po.approve")),
    record=Text(max_length=64, hint=N_("a record, e.g. PO-000010")),
    start=Day(),
    end=Day(),
    older_than=Int(minimum=1),
)
AUDIT_CSV_COLUMNS = ("id", "at_utc", "who", "what", "record_type", "record_id", "before", "after", "comment")


def _audit_query() -> tuple[audit.AuditQuery, dict[str, str]]:
    """The query the page's filters ask for, and the filters as the links to other pages carry them. The days
    are the site's: from the start day's midnight there to the end of the end day."""
    asked = AUDIT_FILTERS.parse(request.args)
    zone = site_zone()
    bounds: dict[str, datetime | None] = {}
    for name, day, days_after in (("start", asked["start"], 0), ("end", asked["end"], 1)):
        if day is not None and not 1900 <= day.year <= 9000:
            raise ValidationError.one(name, gettext("%(name)s must be a day between 1900 and 9000", name=name))
        bounds[name] = datetime.combine(day + timedelta(days=days_after), time(), zone) if day else None
    query = audit.AuditQuery(asked["who"], asked["what"], asked["record"], bounds["start"], bounds["end"],
                             asked["older_than"])  # fmt: skip
    filters = {"who": query.who, "what": query.what, "record": query.record,
               "start": asked["start"].isoformat() if asked["start"] else "",
               "end": asked["end"].isoformat() if asked["end"] else ""}  # fmt: skip
    return query, filters


@bp.route("/audit")
@access.roles(Role.ADMIN)
def audit_view() -> str:
    """The audit log, newest first, filtered by who, what and which record; a page at a time."""
    query, filters = _audit_query()
    entries = audit.search(read_db(), query, AUDIT_PAGE + 1)  # one more than shown: is there an older page?
    return render_template(
        "admin/audit.html",
        entries=entries[:AUDIT_PAGE],
        filters=filters,
        older=entries[AUDIT_PAGE - 1].id if len(entries) > AUDIT_PAGE else None,
        first_page=query.older_than is None,
    )


@bp.route("/audit.csv")
@access.roles(Role.ADMIN)
def audit_csv() -> Response:
    """Every entry the filters match, as CSV for an auditor's spreadsheet (comments in English, times in UTC).

    Written as it is read, a thousand entries at a time, so a long log is never held in memory whole. The rows
    come from a session of the generator's own, opened when the server starts sending: the request's session (and
    its pooled connection) ends with the request, whether or not the body is ever read."""
    query, _filters = _audit_query()
    factory = current_app.extensions.get(READ_FACTORY) or services().session_factory  # SQLite: no write lock

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(AUDIT_CSV_COLUMNS)
        yield out.getvalue()  # the header even when nothing matches: an empty table, not an empty file
        out.seek(0)
        out.truncate()
        with factory() as session:
            page = audit.search(session, query, 1000)
            while page:
                for e in page:
                    writer.writerow(
                        [e.id, e.at.isoformat(), defused(e.actor), defused(e.action), defused(e.entity_type),
                         defused(e.entity_id), defused(audit.as_json(e.before)), defused(audit.as_json(e.after)),
                         defused(notes.english(e.comment))]
                    )  # fmt: skip
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                page = audit.search(session, replace(query, older_than=page[-1].id), 1000)
                session.rollback()  # each page in a short transaction of its own: no snapshot held for the download

    return Response(
        rows(), mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'}
    )


@bp.route("/users/<int:user_id>", methods=["POST"])
@access.roles(Role.ADMIN)
def user_update(user_id: int) -> Any:
    principal = require_principal()
    try:
        roles = [Role.parse(r) for r in request.form.getlist("roles")]
        active = request.form.get("active") == "on"
        if user_id == principal.id and (not active or Role.ADMIN not in roles):
            raise users.UserError(gettext("you cannot remove your own admin role or deactivate yourself"))
        users.update_user(db(), user_id, roles, active, actor=principal.actor, clock=services().clock)
    except (ValueError, users.UserError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.user_list"))
    db().commit()
    flash(gettext("User updated."), "info")
    return redirect(url_for("admin.user_list"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@access.roles(Role.ADMIN)
def user_password_reset(user_id: int) -> Any:
    """An admin sets a user's password (under the policy); every session of that user ends."""
    try:
        users.set_password(
            db(), user_id, request.form.get("password", ""), actor=require_principal().actor, clock=services().clock
        )
    except (ValueError, users.UserError) as exc:
        db().rollback()
        flash(str(exc), "error")
        return _users_page(422)
    db().commit()
    flash(gettext("Password set. The user was logged out everywhere."), "info")
    return redirect(url_for("admin.user_list"))


@bp.route("/lockouts/<int:lock_id>/lift", methods=["POST"])
@access.roles(Role.ADMIN)
def lockout_lift(lock_id: int) -> Response:
    lifted = throttle.lift(db(), lock_id, actor=require_principal().actor, clock=services().clock)
    db().commit()
    if lifted:
        flash(gettext("Lock on %(scope)s %(key)s lifted.", scope=lifted.scope, key=lifted.key), "info")
    else:
        flash(gettext("That lock had already ended."), "info")
    return redirect(url_for("admin.user_list"))


@bp.route("/sites")
@access.roles(Role.ADMIN)
def site_list() -> str:
    return render_template(
        "admin/sites.html",
        sites=masters.list_sites(db()),
        cost_centers=masters.list_cost_centers(db()),
        zones=_time_zones(),
    )


@bp.route("/sites", methods=["POST"])
@access.roles(Role.ADMIN)
def site_create() -> Any:
    form = request.form
    try:
        masters.create_site(
            db(),
            form.get("code", ""),
            form.get("name", ""),
            form.get("ship_to_address", ""),
            actor=require_principal().actor,
            timezone=form.get("timezone", "UTC"),
            clock=services().clock,
            country=form.get("country", ""),
        )
    except DomainError as exc:
        if exc.field:
            raise  # web.errors shows the form again with the field marked
        flash(exc.message, "error")
        return redirect(url_for("admin.site_list"))
    db().commit()
    flash(gettext("Site created."), "info")
    return redirect(url_for("admin.site_list"))


@bp.route("/sites/<code>")
@access.roles(Role.ADMIN)
def site_edit(code: str) -> str:
    return render_template("admin/site_edit.html", site=masters.get_site(db(), code), zones=_time_zones())


@bp.route("/sites/<code>", methods=["POST"])
@access.roles(Role.ADMIN)
def site_update(code: str) -> Any:
    form = request.form
    try:
        masters.update_site(
            db(),
            code,
            name=form.get("name", ""),
            ship_to_address=form.get("ship_to_address", ""),
            timezone=form.get("timezone", ""),
            country=form.get("country", ""),
            actor=require_principal().actor,
            clock=services().clock,
        )
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        typed = masters.SiteView(
            0,
            code.upper(),
            form.get("name", ""),
            form.get("ship_to_address", ""),
            form.get("timezone", ""),
            form.get("country", ""),
        )
        return render_template("admin/site_edit.html", site=typed, zones=_time_zones()), 422
    db().commit()
    flash(gettext("Site %(upper)s saved.", upper=code.upper()), "info")
    return redirect(url_for("admin.site_list"))


def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@bp.route("/cost-centers", methods=["POST"])
@access.roles(Role.ADMIN)
def cost_center_create() -> Any:
    form = request.form
    try:
        masters.create_cost_center(
            db(),
            form.get("code", ""),
            form.get("name", ""),
            form.get("site_code") or None,
            actor=require_principal().actor,
            clock=services().clock,
        )
    except DomainError as exc:
        if exc.field:
            raise  # web.errors shows the form again with the field marked
        flash(exc.message, "error")
        return redirect(url_for("admin.site_list"))
    db().commit()
    flash(gettext("Cost center created."), "info")
    return redirect(url_for("admin.site_list"))
