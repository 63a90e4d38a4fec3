"""The app factory: settings, database, services, security hooks, core pages and the domain plugins."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, current_app, g, send_from_directory
from werkzeug.wrappers import Response

from core import access, user_sessions
from core.clock import Clock, SystemClock
from core.db import make_engine, make_session_factory
from core.forward import register_forwarder
from core.outbox import ConsumerRegistry
from core.roles import Role
from core.runtime import AppServices
from core.settings import load_settings
from core.texts import N_
from web import (
    admin,
    api,
    auth,
    badges,
    charts,
    cli,
    cookies,
    csrf,
    errors,
    health,
    home,
    i18n,
    inputs,
    labels,
    serve_probe,
    session,
)
from web.domains import domain_name, hook, load_plugins

CORE_NAV: list[tuple[str, str, frozenset[Role]]] = [
    (N_("Users"), "admin.user_list", frozenset({Role.ADMIN})),
    (N_("Sites"), "admin.site_list", frozenset({Role.ADMIN})),
    (N_("Tokens"), "admin.token_list", frozenset({Role.ADMIN})),
    (N_("Outbox"), "admin.outbox_view", frozenset({Role.ADMIN})),
    (N_("Ingest"), "health.ingest_page", frozenset({Role.ADMIN})),
    (N_("Audit log"), "admin.audit_view", frozenset({Role.ADMIN})),
]
# The top menu's groups, in this order: a plugin names its group with a `nav_group()` hook, else its domain's
# group below applies. A user who may open more than NAV_FLAT_MAX links (in two or more groups) gets one
# disclosure menu per group; fewer links fit in one row and stay a flat menu (no extra click for a nurse).
NAV_FLAT_MAX = 8
NAV_GROUPS = ("Vending", "Tracking", "Purchasing", "Admin")
DOMAIN_NAV_GROUPS = {"vending": "Vending", "tracking": "Tracking", "procurement": "Purchasing"}
CORE_NAV_GROUP = "Admin"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may set DATABASE_URL, INSTANCE_PATH, CLOCK, SECRET_KEY and Flask keys."""
    config = dict(test_config or {})
    instance = config.pop("INSTANCE_PATH", None) or os.environ.get("VENDTRACK_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    overrides = {k.lower(): config.pop(k) for k in list(config) if k in {"DATABASE_URL", "SECRET_KEY"}}
    settings_overrides = config.pop("SETTINGS", {})
    overrides.update(settings_overrides)
    plugins = load_plugins()  # first: a plugin may declare VENDTRACK_* variables of its own at import
    settings = load_settings(instance_path=app.instance_path, overrides=overrides)
    logging.basicConfig(level=settings.log_level)
    clock: Clock = config.pop("CLOCK", None) or SystemClock()

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=user_sessions.LIFETIME,  # the cookie; the server-side session decides
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.config.update(config)

    engine = make_engine(settings.database_url)
    services = AppServices(
        settings=settings, session_factory=make_session_factory(engine), clock=clock, consumers=ConsumerRegistry()
    )
    app.extensions["vendtrack"] = services
    app.extensions["vendtrack_engine"] = engine
    app.extensions["vendtrack_db"] = session.db  # domains get the request session without importing web
    app.extensions["vendtrack_read_db"] = session.read_db  # ... and the one for views that only read
    app.extensions["vendtrack_read_work"] = session.read_work  # ... and prepared reads without a Session
    app.extensions[session.READ_FACTORY] = session.read_factory_for(settings.database_url, engine)

    _make_static_public(app)
    _add_security_headers(app)
    session.init_app(app)
    cookies.init_app(app)
    errors.init_app(app)
    auth.init_app(app)  # access check runs before the CSRF check: strangers get 401, not 400
    inputs.init_app(app)  # then every input is checked (NUL, control characters, JSON) and normalised to NFC
    csrf.init_app(app)
    charts.init_app(app)
    i18n.init_app(app)  # Flask-Babel: languages, dates and numbers per locale (web/i18n.py)
    badges.init_app(app)
    for blueprint in (home.bp, health.bp, api.bp, admin.bp, serve_probe.bp, labels.bp):
        app.register_blueprint(blueprint)

    nav = list(CORE_NAV)
    groups = {endpoint: CORE_NAV_GROUP for _label, endpoint, _roles in CORE_NAV}
    for plugin in plugins:
        before = len(nav)
        _install_plugin(app, plugin, services, nav)
        group = nav_group_of(plugin)
        groups.update({endpoint: group for _label, endpoint, _roles in nav[before:]})
    order = {name: i for i, name in enumerate(NAV_GROUPS)}
    nav.sort(key=lambda link: order.get(groups[link[1]], len(order)))  # stable: each group keeps its own order
    app.extensions["vendtrack_nav_groups"] = groups
    app.extensions["vendtrack_plugins"] = plugins
    if settings.upstream_url:  # an edge: forward every event to the central installation
        register_forwarder(services.consumers, settings.upstream_url, settings.upstream_token)
    app.jinja_env.globals["nav_links"] = nav
    app.jinja_env.globals["may_open"] = _may_open
    app.jinja_env.globals["nav_menu"] = nav_menu
    cli.register(app, plugins, create_app)
    return app


def _install_plugin(
    app: Flask, plugin: Any, services: AppServices, nav: list[tuple[str, str, frozenset[Role]]]
) -> None:
    if (blueprints := hook(plugin, "blueprints")) is not None:
        for blueprint in blueprints():
            app.register_blueprint(blueprint)
    if (register := hook(plugin, "register_consumers")) is not None:
        register(services.consumers, services)
    if (links := hook(plugin, "nav_links")) is not None:
        nav.extend(links())
    app.logger.debug("domain %s installed", domain_name(plugin))


def nav_group_of(plugin: Any) -> str:
    """The menu group of a plugin's links: its `nav_group()` hook, else its domain's group, else its name."""
    if (named := hook(plugin, "nav_group")) is not None:
        return str(named())
    name = domain_name(plugin)
    return DOMAIN_NAV_GROUPS.get(name, name.replace("_", " ").capitalize())


def nav_menu(roles: Iterable[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The menu the caller sees: (group, [(label, endpoint)]) for each group holding a link their roles may open;
    one group ("") holding every link when they are NAV_FLAT_MAX or fewer (the page shows them flat)."""
    held = set(roles)
    groups: dict[str, list[tuple[str, str]]] = {}
    nav: list[tuple[str, str, frozenset[Role]]] = current_app.jinja_env.globals["nav_links"]  # type: ignore[assignment]
    of = current_app.extensions.get("vendtrack_nav_groups", {})
    for label, endpoint, link_roles in nav:
        if {r.value for r in link_roles} & held and _may_open(endpoint):
            groups.setdefault(of.get(endpoint, CORE_NAV_GROUP), []).append((label, endpoint))
    if sum(len(links) for links in groups.values()) <= NAV_FLAT_MAX:
        return [("", [link for links in groups.values() for link in links])] if groups else []
    return list(groups.items())


def _may_open(endpoint: str) -> bool:
    """Whether the caller of this request may open `endpoint` (no path parameters): menus show only these."""
    view = current_app.view_functions.get(endpoint)
    rule = access.access_of(view) if view is not None else None
    return rule is not None and auth.is_allowed(rule, g.get("principal"))


# Scripts only from our own files (no inline script, no eval; 'wasm-unsafe-eval' lets the vendored barcode reader
# compile its WebAssembly, and nothing else); the camera for our own pages only (the scan button). Inline styles
# stay allowed because templates use style attributes, and a style cannot run code. Nothing may frame a page
# (clickjacking on the kiosk or admin).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {  # i18n: HTTP header values
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}


def _add_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: tell browsers to stay on it
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def _make_static_public(app: Flask) -> None:
    folder = app.static_folder

    @access.public
    def static(filename: str) -> Response:
        response = send_from_directory(str(folder), filename, max_age=3600)
        return response

    app.view_functions["static"] = static
