"""Login/logout for users, bearer tokens for devices, and the access check run before every request.

A login is throttled per account and per address (core.throttle, shared by every process through the database)
and answers an unknown name exactly as a wrong password, after the same one password hash. A signed-in browser
holds only a server-side session's id (core.user_sessions): logout, a password change and a deactivation end
the session row, so a copy of the cookie taken before is refused after.

A paired kiosk browser holds a DEVICE token in an HttpOnly cookie (set by vending's pairing action): it counts
only on views declared with `device_cookie=True` that accept DEVICE tokens, after a bearer header and a
logged-in user; unlike a bearer header it is ambient, so requests it authenticates stay under the CSRF check.
"""

from __future__ import annotations

from contextlib import ExitStack
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
from flask_babel import gettext
from werkzeug.wrappers import Response

from core import access, audit, throttle, user_sessions, users
from core.access import Access
from core.passwords import PasswordRejected
from core.roles import TokenScope
from core.throttle import Refusal, Scope, Wait
from web.errors import error_json
from web.principal import Principal, is_allowed
from web.session import brief_read, db, services

bp = Blueprint("auth", __name__)
DEVICE_COOKIE = "vendtrack_device"  # domains read the name from app.config["DEVICE_COOKIE_NAME"]
NOT_PAIRED = "this kiosk is not paired: ask an administrator to pair it"


def current_principal() -> Principal | None:
    return g.get("principal")


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        abort(401)
    return principal


def _token_principal(plain: str, scope: TokenScope | None = None) -> Principal | None:
    """The token's principal, read without taking SQLite's write lock and remembered for at most 2 s (a revocation
    by another process is seen within that: core.token_cache); its last use is written (in a transaction of its
    own, before the view's) only once a minute."""
    database = services().settings.database_url
    with ExitStack() as reads:  # a connection only on a miss, and only for the look-up
        view = users.live_token(lambda: reads.enter_context(brief_read()), database, plain)
    if view is None or (scope is not None and scope.value not in view.scopes):
        return None
    now = services().clock.now()
    if users.last_use_due(view, now):
        users.record_use(db(), view.id, now)
        db().commit()
        users.used_now(database, plain, view, now)
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
    sid = session.get("sid")
    if isinstance(sid, str):
        live = user_sessions.resolve(db(), sid, services().clock.now())
        user = users.get_user(db(), live.user_id) if live is not None else None
        if user is not None:
            db().commit()  # last_seen_at
            return Principal("user", user.id, user.username, user.roles, frozenset(), language=user.language)
    if "sid" in session or "user_id" in session:
        session.clear()  # ended, expired, or a cookie of the old client-side sessions
    cookie = _device_cookie(rule)
    return _token_principal(cookie, TokenScope.DEVICE) if cookie else None


def _deny(rule: Access, principal: Principal | None) -> Any:
    wants_json = request.path.startswith("/api/")
    if principal is None and _device_cookie(rule) and not request.headers.get("Authorization"):
        # the browser was paired, but its token is revoked or unknown: say so instead of asking for a login
        if wants_json:
            return error_json(401, NOT_PAIRED, "kiosk_not_paired")
        return render_template(
            "error.html",
            status=401,
            title=gettext("This kiosk is not paired"),
            hint=gettext("this kiosk is not paired: ask an administrator to pair it"),
        ), 401
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
        g.session_id_at_start = session.get("sid")
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

    @app.after_request
    def _end_dropped_session(response: Response) -> Response:
        """A view that cleared or replaced the browser's session (a new login, pairing a kiosk browser) ends the
        server-side session it held, so no copy of the old cookie outlives it."""
        before = g.get("session_id_at_start")
        if isinstance(before, str) and session.get("sid") != before:
            request_db = db()
            request_db.rollback()  # what teardown does with anything the view left uncommitted; frees SQLite's lock
            user_sessions.end(request_db, before, services().clock.now(), reason="replaced")
            request_db.commit()
        return response

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


WRONG = "Wrong username or password."
DEACTIVATED = "This account is deactivated; ask an admin to reactivate it."
USERNAME_CHARS = 200  # longer input cannot be a username; it is cut before it is counted


@bp.route("/login", methods=["GET", "POST"])
@access.public
def login() -> Any:
    if request.method != "POST":
        return render_template("login.html", username="")
    username = request.form.get("username", "")[:USERNAME_CHARS]
    password = request.form.get("password", "")
    now = services().clock.now()
    keys = [(Scope.ACCOUNT, users.username_key(username)[:USERNAME_CHARS]), (Scope.ADDRESS, _address())]
    claims = throttle.claim(db(), keys, now)
    db().commit()  # the try counts for every process before the slow hash
    if isinstance(claims, Refusal):
        return _throttled(claims, username)
    result = users.authenticate(db(), username, password)
    right = result.outcome in (users.Outcome.SIGNED_IN, users.Outcome.DEACTIVATED)
    throttle.settle(db(), claims, right, reset=frozenset({Scope.ACCOUNT}))
    _audit_lockouts(claims, right)
    if result.outcome is users.Outcome.DEACTIVATED:
        db().commit()
        flash(DEACTIVATED, "error")
        return render_template("login.html", username=username), 403
    if result.user is None:
        db().commit()
        flash(WRONG, "error")
        return render_template("login.html", username=username), 401
    _start_session(result.user.id)
    return redirect(_safe_next(request.args.get("next")))


def _address() -> str:
    return (request.remote_addr or "unknown")[:64]


def _start_session(user_id: int) -> None:
    sid = user_sessions.start(db(), user_id, services().clock.now(), address=_address())
    db().commit()
    session.clear()  # a new session id and CSRF token at every login: no fixation
    session["sid"] = sid
    session.permanent = True


def _throttled(refusal: Refusal, username: str) -> Any:
    wait = max(int((refusal.until - services().clock.now()).total_seconds()) + 1, 1)
    who = "this account" if refusal.scope is Scope.ACCOUNT else "this address"
    if refusal.wait is Wait.LOCKED:
        message = (
            f"Too many failed logins for {who}: locked until {refusal.until:%H:%M} UTC. "
            "An admin can lift the lock on the Users page."
        )
    else:
        message = f"Too many failed logins for {who}: wait {wait} seconds, then try again."
    flash(message, "error")
    response = current_app.make_response((render_template("login.html", username=username), 429))
    response.headers["Retry-After"] = str(wait)
    return response


def _audit_lockouts(claims: list[throttle.Claim], right: bool) -> None:
    for claim in claims:
        if claim.locked_now and not right:
            audit.record(
                db(), "system:login", "auth.locked_out", "auth_throttle", f"{claim.scope}:{claim.key}"[:64],
                after={"scope": claim.scope.value, "key": claim.key, "address": _address()}, clock=services().clock,
            )  # fmt: skip


@bp.route("/logout", methods=["POST"])
@access.public
def logout() -> Response:
    sid = session.get("sid")
    if isinstance(sid, str):
        user_sessions.end(db(), sid, services().clock.now(), reason="logout")
        db().commit()
    session.clear()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@access.logged_in
def change_password() -> Any:
    """Any signed-in person changes their own password; every other session of theirs ends."""
    principal = require_principal()
    if request.method != "POST":
        return render_template("password.html")
    form = request.form
    claims = throttle.claim(db(), [(Scope.ACCOUNT, users.username_key(principal.name))], services().clock.now())
    db().commit()
    if isinstance(claims, Refusal):
        return _throttled(claims, principal.name)
    right = users.check_password(db(), principal.id, form.get("current", ""))
    throttle.settle(db(), claims, right, reset=frozenset({Scope.ACCOUNT}))
    db().commit()
    try:
        if not right:
            raise PasswordRejected(gettext("the current password is wrong: type the one you logged in with"))
        if form.get("new", "") != form.get("confirm", ""):
            raise PasswordRejected(gettext("the new password and its repetition differ: type the same twice"))
        users.set_password(
            db(), principal.id, form.get("new", ""), actor=principal.actor, clock=services().clock, reason="change"
        )
    except (PasswordRejected, users.UserError) as exc:
        db().rollback()
        flash(str(exc), "error")
        return render_template("password.html"), 422
    _start_session(principal.id)  # this browser stays signed in with a new session; every other one ends
    flash(gettext("Password changed. You were logged out everywhere else."), "info")
    return redirect(url_for("home.index"))
