"""Login/logout for users, bearer tokens for devices, and the access check run before every request.

A paired kiosk browser holds a DEVICE token in an HttpOnly cookie (set by vending's pairing action): it counts
only on views declared with `device_cookie=True` that accept DEVICE tokens, after a bearer header and a
logged-in user; unlike a bearer header it is ambient, so requests it authenticates stay under the CSRF check.
"""

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
from core.roles import Role, TokenScope
from web.errors import error_json
from web.session import db, services

bp = Blueprint("auth", __name__)
DEVICE_COOKIE = "vendtrack_device"  # domains read the name from app.config["DEVICE_COOKIE_NAME"]
NOT_PAIRED = "this kiosk is not paired: ask an administrator to pair it"


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


def _token_principal(plain: str, scope: TokenScope | None = None) -> Principal | None:
    view = users.verify_token(db(), plain, clock=services().clock)
    if view is None or (scope is not None and scope.value not in view.scopes):
        return None
    db().commit()  # last_used_at
    return Principal("token", view.id, view.name, frozenset(), view.scopes, view.site_id)


def _device_cookie(rule: Access) -> str | None:
    """The paired kiosk's token, on views that opt in (the kiosk), never on admin pages or other APIs."""
    if not rule.device_cookie or TokenScope.DEVICE not in rule.scopes:
        return None
    return request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"]) or None


def _load_principal(rule: Access) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return _token_principal(header[7:].strip())
    user_id = session.get("user_id")
    if user_id is not None:
        user = users.get_user(db(), int(user_id))
        if user is not None:
            return Principal("user", user.id, user.username, user.roles, frozenset())
        session.clear()
    cookie = _device_cookie(rule)
    return _token_principal(cookie, TokenScope.DEVICE) if cookie else None


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


def _deny(rule: Access, principal: Principal | None) -> Any:
    wants_json = request.path.startswith("/api/")
    if principal is None and _device_cookie(rule) and not request.headers.get("Authorization"):
        # the browser was paired, but its token is revoked or unknown: say so instead of asking for a login
        if wants_json:
            return error_json(401, NOT_PAIRED, "kiosk_not_paired")
        return render_template("error.html", status=401, title="This kiosk is not paired", hint=NOT_PAIRED), 401
    if principal is None:
        if wants_json:
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.config.setdefault("DEVICE_COOKIE_NAME", DEVICE_COOKIE)

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
        principal = _load_principal(rule)
        g.principal = principal
        if not is_allowed(rule, principal):
            return _deny(rule, principal)
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
