"""How procurement plugs into vendtrack: pages, CLI, event consumers, the replenishment and transmit workers, demo."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint

from core.db import unit_of_work
from core.events import ItemDispensed, StockLevelChanged
from core.outbox import ConsumerRegistry
from core.roles import Role
from core.runtime import AppServices, BackgroundWorker, DemoContext, LoopWorker, SmokeResult
from core.settings import EXTRA_VARIABLES
from procurement import api, config_views, equipment, equipment_views, po_views, receiving_views, run_views
from procurement.cli import procurement_group
from procurement.demo import seed, smoke_flow
from procurement.replenish import replenish, submit_system_drafts
from procurement.send_config import PARSERS
from procurement.stock import handle_event
from procurement.supplier_inbound import buyer_views, profile_views, public_views
from procurement.transmit import RetryPolicy, SmtpConfig
from procurement.transmit_worker import retry_due
from procurement.views import bp

for _name, _parser in PARSERS.items():  # declared at import, before the settings are loaded
    EXTRA_VARIABLES.setdefault(_name, _parser)

# imported for the pages they add to views.bp (and profile_views to buyer_views.bp)
PAGE_MODULES = (config_views, equipment_views, po_views, receiving_views, run_views, profile_views)

CONSUMER = "procurement.position"
DEBOUNCE_SECONDS = 2.0  # a pair is looked at once its stock has been quiet this long
HOLD_SECONDS = 0.0  # system drafts older than this are submitted for approval
TRANSMIT_POLL_SECONDS = 5.0  # how often due PO e-mails (and stale claims) are looked for


def blueprints() -> list[Blueprint]:
    return [bp, api.bp, buyer_views.bp, public_views.bp]


def cli_commands() -> list[Any]:
    return [procurement_group]


def register_consumers(registry: ConsumerRegistry, services: AppServices) -> None:
    registry.register(CONSUMER, [ItemDispensed.event_type, StockLevelChanged.event_type], handle_event)
    # tracking's PAR shortfalls that rebalancing cannot fix become purchase requests (submitted system orders)
    registry.register(equipment.CONSUMER, list(equipment.EVENT_TYPES),
                      partial(equipment.handle_event, clock=services.clock))  # fmt: skip


def replenish_step(services: AppServices, debounce: float = DEBOUNCE_SECONDS, hold: float = HOLD_SECONDS) -> None:
    """One debounced round: dirty pairs quiet for `debounce` seconds, then submit due system drafts."""
    with unit_of_work(services.session_factory) as session:
        replenish(session, services.clock, only_dirty=True, settle_seconds=debounce)
        submit_system_drafts(session, services.clock, hold_seconds=hold)


def transmit_step(services: AppServices) -> None:
    """One round of PO e-mail retries: due transmissions and stale claims, with the configured SMTP server."""
    settings = services.settings
    retry_due(services.session_factory, SmtpConfig.from_settings(settings), services.clock,
              RetryPolicy.from_settings(settings))  # fmt: skip


def workers(services: AppServices) -> list[BackgroundWorker]:
    return [
        LoopWorker("procurement-replenish", lambda: replenish_step(services), interval=1.0),
        LoopWorker("procurement-transmit", lambda: transmit_step(services), interval=TRANSMIT_POLL_SECONDS),
    ]


def nav_links() -> list[tuple[str, str, frozenset[Role]]]:
    readers = frozenset({Role.PROCUREMENT, Role.APPROVER, Role.ADMIN})
    return [
        ("Purchase orders", "procurement.queue_view", readers),
        ("Receiving", "procurement.receiving_page", frozenset({Role.PROCUREMENT, Role.ADMIN})),
        ("Suppliers", "procurement.supplier_list", readers),
        ("Invoices", "procurement_supplier.invoice_list", readers),
        ("Budgets", "procurement.budget_list", readers),
        ("Policies", "procurement.policy_list", readers),
        ("Site settings", "procurement.site_settings_list", readers),
    ]


def seed_demo(session: Any, demo: DemoContext) -> None:
    seed(session, demo)


def smoke(demo: DemoContext) -> SmokeResult:
    return smoke_flow(demo)
