"""How the fleet plugs into the app: central mode (VENDTRACK_FLEET_CENTRAL) or edge mode (an enrolled instance).

Central: the change feed records configuration edits, the fleet API and page are served, forwarded facts are
kept (`fleet.facts`) and checked for limits exceeded across edges, /healthz lists the edges. Edge (a
`fleet.json` in the instance folder, written by `vendtrack edge enrol`): its facts are forwarded to the
central server, configuration is pulled every VENDTRACK_FLEET_POLL_SECONDS (default 10 s, so a worker
deactivated centrally is refused within a minute), edits of central-owned data are refused, and the rules
count the worker's takes at other edges.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy.orm import Session

from core import fleet_edge, fleet_feed
from core.event_scope import EDGE_EVENTS
from core.events import Event, ItemDispensed
from core.fleet_central import overview, record_fact
from core.fleet_feed import get_state
from core.forward import register_forwarder
from core.roles import Role
from core.runtime import AppServices, BackgroundWorker, LoopWorker
from core.settings import EXTRA_VARIABLES, _parse_bool, _parse_positive
from vending import config_feed, remote_usage, rules
from web import fleet_api, fleet_views
from web.fleet_cli import edge_group, fleet_group
from web.fleet_report import edge_report

EXTRA_VARIABLES.setdefault("fleet_central", _parse_bool)
EXTRA_VARIABLES.setdefault("fleet_poll_seconds", _parse_positive)
EXTRA_VARIABLES.setdefault("fleet_silent_seconds", _parse_positive)
EXTRA_VARIABLES.setdefault("fleet_behind_seconds", _parse_positive)
config_feed.register_tables()
FACTS = "fleet.facts"


def is_central(services: AppServices) -> bool:
    return bool(services.settings.extra.get("fleet_central", False))


def blueprints() -> list[Blueprint]:
    return [fleet_api.bp, fleet_views.bp]


def cli_commands() -> list[Any]:
    return [edge_group, fleet_group]


def nav_links() -> list[tuple[str, str, frozenset[Role]]]:
    return [("Fleet", "fleet.fleet_page", frozenset({Role.ADMIN}))]


def nav_group() -> str:
    """The top menu's group of this plugin's links (web/app.py NAV_GROUPS)."""
    return "Admin"


def register_consumers(registry: Any, services: AppServices) -> None:
    """Not only consumers: this is the one hook that sees the services, so each mode is wired here."""
    if is_central(services):
        fleet_feed.capture_changes(services.session_factory)

        def keep(session: Session, evt: Event) -> None:
            record_fact(session, evt, services.clock.now())
            if isinstance(evt, ItemDispensed):
                session.flush()
                remote_usage.flag_overrun(session, evt)

        registry.register(FACTS, sorted(EDGE_EVENTS), keep)
        return
    identity = fleet_edge.load_identity(services.settings.instance_path)
    if identity is None:
        return
    rules.remote_usage_source = remote_usage.load
    fleet_feed.refuse_local_edits(services.session_factory, identity.url)
    if not services.settings.upstream_url:
        services.extras["fleet_forwarder"] = register_forwarder(registry, identity.url, identity.token)


def link(services: AppServices) -> Any:
    """The edge's FleetLink (one per app), or None when this instance is not an enrolled edge."""
    if "fleet_link" not in services.extras:
        if fleet_edge.load_identity(services.settings.instance_path) is None:
            return None
        forwarder = services.extras.get("fleet_forwarder")

        def on_token(token: str) -> None:
            if forwarder is not None:
                forwarder.token = token

        services.extras["fleet_link"] = fleet_edge.FleetLink(
            services.session_factory, services.settings.instance_path, lambda s: edge_report(s, services), on_token
        )
    return services.extras["fleet_link"]


def workers(services: AppServices) -> list[BackgroundWorker]:
    found = link(services)
    if found is None:
        return []
    interval = float(services.settings.extra.get("fleet_poll_seconds", 10.0))
    return [LoopWorker("fleet-link", found.step, interval=interval)]


def health(session: Session, services: AppServices) -> dict[str, Any]:
    """{"fleet": ...} for /healthz: the edges (central) or this edge's link (edge); {} when neither."""
    part = _health(session, services)
    return {"fleet": part} if part is not None else {}


def _health(session: Session, services: AppServices) -> dict[str, Any] | None:
    if is_central(services):
        extra = services.settings.extra
        version, edges = overview(session, services.clock.now(), float(extra.get("fleet_silent_seconds", 120.0)),
                                  float(extra.get("fleet_behind_seconds", 300.0)))  # fmt: skip
        return {
            "role": "central",
            "config_version": version,
            "edges": {e.name: _edge_json(e) for e in edges},
            "alerts": [f"{e.name}: {a}" for e in edges for a in e.alerts],
        }
    found = link(services)
    if found is None:
        return None

    report = edge_report(session, services)
    return {
        "role": "edge",
        "central": found.identity.url if found.identity else "",
        "config_version": int(get_state(session, "version", "0") or 0),
        "last_pull_at": get_state(session, "last_pull_at") or None,
        "stopped": get_state(session, "stopped"),
        "last_error": found.last_error,
        "backlog": report["backlog"],
        "oldest_waiting": report["oldest_waiting"],
        "alerts": [a for a in (get_state(session, "stopped"), found.last_error) if a],
    }


def _edge_json(e: Any) -> dict[str, Any]:
    return {
        "site": e.site_code, "last_contact": e.last_contact_at.isoformat() if e.last_contact_at else None,
        "seconds_since_contact": e.silent_s, "config_version": e.config_version, "lag": e.lag,
        "backlog": e.backlog, "oldest_waiting": e.oldest_waiting_at.isoformat() if e.oldest_waiting_at else None,
        "software_version": e.software_version, "devices": e.devices,
        "alerts": [a.english() for a in e.alerts], "revoked": e.revoked,
    }  # fmt: skip
