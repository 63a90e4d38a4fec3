"""Finds the domain plugins (vending, tracking, procurement) and reads their optional hooks.

Each domain may ship a `plugin` module with any of these functions:
  blueprints() -> list[Blueprint]               pages and API routes (every view declares access)
  cli_commands() -> list[click.Command]         added to the `vendtrack` CLI
  sim_commands() -> list[click.Command]         added under `vendtrack sim`
  register_consumers(registry, services)        outbox consumers
  workers(services) -> list[BackgroundWorker]   run by `serve` and `demo`
  nav_links() -> list[tuple[label, endpoint, frozenset[Role]]]
  seed_demo(session, demo)                      demo data (the session is committed by the caller)
  start_demo(demo) -> list[BackgroundWorker]    simulators and their pollers for the demo
  smoke(demo) -> SmokeResult                    one end-to-end flow against the simulators
  token_machine(session, token_id) -> str|None  the machine a device token is bound to (events it may post)
  machine_site(session, machine_code) -> str|None   a machine's site code (events an edge may post)
  health(session, services) -> dict             extra parts of /healthz (e.g. "fleet")
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

DOMAIN_PLUGINS = ("vending.plugin", "tracking.plugin", "procurement.plugin", "web.fleet_plugin")


def load_plugins() -> list[ModuleType]:
    plugins = []
    for name in DOMAIN_PLUGINS:
        if importlib.util.find_spec(name) is None:
            continue
        plugins.append(importlib.import_module(name))
    return plugins


def domain_name(plugin: ModuleType) -> str:
    return plugin.__name__.split(".")[0]


def hook(plugin: ModuleType, name: str) -> Any:
    return getattr(plugin, name, None)
