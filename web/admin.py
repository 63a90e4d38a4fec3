"""Administration pages: users and roles, device/gateway tokens, outbox dead letters, the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core import access, audit, outbox, users
from core.roles import Role, TokenScope
from web.auth import require_principal
from web.session import db, services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@access.roles(Role.ADMIN)
def user_list() -> str:
    return render_template("admin/users.html", users=users.list_users(db()), roles=list(Role))


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
        flash(str(exc), "error")
        return render_template("admin/users.html", users=users.list_users(db()), roles=list(Role)), 400
    db().commit()
    flash(f"User {form.get('username')} created.", "info")
    return redirect(url_for("admin.user_list"))


@bp.route("/tokens")
@access.roles(Role.ADMIN)
def token_list() -> str:
    return render_template("admin/tokens.html", tokens=users.list_tokens(db()), scopes=list(TokenScope), new_token=None)


@bp.route("/tokens", methods=["POST"])
@access.roles(Role.ADMIN)
def token_create() -> Any:
    try:
        scopes = [TokenScope.parse(s) for s in request.form.getlist("scopes")]
        name = request.form.get("name", "").strip()
        if not name:
            raise users.UserError("give the token a name, such as the gateway or machine it is for")
        plain, _view = users.create_token(db(), name, scopes, actor=require_principal().actor, clock=services().clock)
    except (ValueError, users.UserError) as exc:
        flash(str(exc), "error")
        return render_template(
            "admin/tokens.html", tokens=users.list_tokens(db()), scopes=list(TokenScope), new_token=None
        ), 400
    db().commit()
    return render_template(
        "admin/tokens.html", tokens=users.list_tokens(db()), scopes=list(TokenScope), new_token=plain
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@access.roles(Role.ADMIN)
def token_revoke(token_id: int) -> Response:
    users.revoke_token(db(), token_id, actor=require_principal().actor, clock=services().clock)
    db().commit()
    flash("Token revoked.", "info")
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
    flash(f"{count} dead letter(s) sent back for delivery.", "info")
    return redirect(url_for("admin.outbox_view"))


@bp.route("/audit")
@access.roles(Role.ADMIN)
def audit_view() -> str:
    return render_template("admin/audit.html", entries=audit.recent(db(), limit=300))
