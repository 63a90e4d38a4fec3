"""The demo seed (one PO auto-approved, one waiting) and the smoke flow: dispense → PO → approved → PDF → e-mail."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from core.models import CostCenter, Site
from core.outbox import Dispatcher
from core.runtime import DemoContext
from procurement import plugin
from procurement.demo import smoke_flow
from procurement.models import PurchaseOrder


def _demo(app: Flask, tmp_path: Path) -> DemoContext:
    services = app.extensions["vendtrack"]
    with unit_of_work(services.session_factory) as s:
        site = Site(code="PLANT1", name="Riverside", ship_to_address="Dock 2\nSpringfield")
        s.add(site)
        s.flush()
        s.add(CostCenter(code="CC-100", name="Maintenance", site_id=site.id))
        site_id = site.id
    demo = DemoContext(services=services, instance_path=tmp_path, site_id=site_id, site_code="PLANT1")
    with unit_of_work(services.session_factory) as s:
        plugin.seed_demo(s, demo)
    return demo


def _drain_and_replenish(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    Dispatcher(services.session_factory, services.consumers, services.clock).drain()
    plugin.replenish_step(services, debounce=0)


def test_seed_gives_one_auto_approved_and_one_waiting(app: Flask, tmp_path: Path) -> None:
    _demo(app, tmp_path)
    _drain_and_replenish(app)
    with app.extensions["vendtrack"].session_factory() as s:
        rows = s.execute(select(PurchaseOrder.status, PurchaseOrder.approved_by).order_by(PurchaseOrder.id)).all()
    assert sorted(rows, key=str) == [("approved", "system:auto-approve"), ("pending_approval", None)]


@pytest.mark.sqlite_only
def test_smoke_flow_reaches_a_captured_email(app: Flask, tmp_path: Path) -> None:
    demo = _demo(app, tmp_path)
    _drain_and_replenish(app)
    stop = threading.Event()

    def background() -> None:  # what the demo's dispatcher and procurement worker do
        while not stop.is_set():
            _drain_and_replenish(app)
            stop.wait(0.2)

    worker = threading.Thread(target=background, daemon=True)
    worker.start()
    try:
        result = smoke_flow(demo)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert result.ok, result.detail
    assert "e-mail captured; an auto-approved PO exists" in result.detail
