"""Login/logout for users, bearer tokens for devices, and the access check run before every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from core import access, users
from core.access import Access
from core.roles import Role
from web.session import db, services

bp = Blueprint("auth", __name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a logged-in user or a bearer token."""

    kind: str  # "user" or "token"
    id: int
    name: str
    roles: frozenset[str]
    scopes: frozenset[str]
    site_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def has_role(self, *wanted: Role) -> bool:
        return any(r.value in self.roles for r in wanted)


def current_principal() -> Principal | None:
    return g.get("principal")


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        abort(401)
    return principal


def _load_principal() -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        view = users.verify_token(db(), header[7:].strip(), clock=services().clock)
        if view is None:
            return None
        db().commit()  # last_used_at
        return Principal("token", view.id, view.name, frozenset(), view.scopes, view.site_id)
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = users.get_user(db(), int(user_id))
    if user is None:
        session.clear()
        return None
    return Principal("user", user.id, user.username, user.roles, frozenset())


def is_allowed(rule: Access, principal: Principal | None) -> bool:
    if rule.public:
        return True
    if principal is None:
        return False
    if principal.kind == "token":
        return bool(rule.scopes & {s for s in principal.scopes})
    if rule.any_user:
        return True
    return bool({r.value for r in rule.roles} & principal.roles)


def _deny(principal: Principal | None) -> Any:
    wants_json = request.path.startswith("/api/")
    if principal is None:
        if wants_json:
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _check_access() -> Any:
        g.principal = None
        if request.endpoint is None:
            return None  # 404/405 handled by Flask
        view = app.view_functions.get(request.endpoint)
        rule = access.access_of(view) if view else None
        if rule is None:
            # Deny by default: a route without an access declaration is a bug, never an open door.
            current_app.logger.error("endpoint %s has no access declaration", request.endpoint)
            abort(403)
        principal = _load_principal()
        g.principal = principal
        if not is_allowed(rule, principal):
            return _deny(principal)
        return None

    @app.context_processor
    def _inject_principal() -> dict[str, Any]:
        return {"principal": g.get("principal")}


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("home.index")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@access.public
def login() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = users.authenticate(db(), username, password)
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("login.html", username=username), 401
        session.clear()
        session["user_id"] = user.id
        session.permanent = True
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username="")


@bp.route("/logout", methods=["POST"])
@access.public
def logout() -> Response:
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
