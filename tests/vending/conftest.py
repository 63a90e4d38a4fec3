"""Vending fixtures: a seeded site (items, machines, slots, workers) and simulators on real bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import make_engine, unit_of_work
from core.models import Item, Site
from core.roles import Role
from core.users import create_user
from firmware_bridge.sim.lockboard import LockBoardSim
from migrations.models import load_all_models
from vending import ledger
from vending.models import Machine, Slot
from vending.runtime import runtime
from vending.workers import create_worker

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


@dataclass
class World:
    site_id: int
    items: dict[str, int]
    machine_id: int
    slots: dict[str, int]
    workers: dict[str, int]


def seed_world(factory: sessionmaker[Session], locker_config: dict[str, object] | None = None) -> World:
    with unit_of_work(factory) as s:
        site = Site(code="S1", name="Site one", timezone="UTC")
        s.add(site)
        s.flush()
        items = {}
        for sku, name, cat in (
            ("GLV-1", "Gloves", "ppe"),
            ("DRL-8", "Drill bit 8 mm", "cutting"),
            ("EAR-1", "Ear plugs", "ppe"),
        ):
            item = Item(sku=sku, name=name, category=cat, unit_cost=Decimal("1.50"))
            s.add(item)
            s.flush()
            items[sku] = item.id
        machine = Machine(
            code="L1",
            name="Locker 1",
            site_id=site.id,
            kind="locker_bank",
            driver_config=json.dumps(locker_config or {}),
        )
        s.add(machine)
        s.flush()
        slots = {}
        for i, (code, sku) in enumerate((("A1", "GLV-1"), ("A2", "DRL-8"), ("A3", "EAR-1"))):
            slot = Slot(
                machine_id=machine.id,
                code=code,
                item_id=items[sku],
                device_ref=code,
                capacity=5,
                min_level=1,
                max_level=5,
            )
            s.add(slot)
            s.flush()
            slots[code] = slot.id
            ledger.post(s, slot_id=slot.id, kind="restock", quantity=5, key=f"seed:{i}", at=NOW)
        workers = {}
        for code, groups in (("W1", ["fitters"]), ("W2", ["fitters"]), ("W3", ["welders"])):
            w = create_worker(
                s, code, f"Worker {code}", pin="1234", groups=groups, badges=[f"04A2{code[-1]}B1C"], site_id=site.id
            )
            workers[code] = w.id
        return World(site.id, items, machine.id, slots, workers)


@pytest.fixture(autouse=True)
def _fresh_rule_cache() -> None:
    """Tables are truncated between tests on PostgreSQL (same URL): start each test with an empty rule cache."""
    from vending.rule_cache import CACHE

    CACHE.invalidate()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    return seed_world(session_factory)


@pytest.fixture
def lockboard(tmp_path: object) -> Iterator[LockBoardSim]:
    sim = LockBoardSim(
        boards=(0,), model_wire_time=False, response_delay=0.0, unlock_delay=0.0, close_after=0.05, take_item=True
    )
    with sim:
        yield sim


def kerong_config(url: str) -> dict[str, object]:
    return {
        "driver": "kerong",
        "device": {"port": url, "boards": [{"address": 0}], "slots": {"A1": [0, 0], "A2": [0, 1], "A3": [0, 2]}},
        "open_window_s": 0.5,
        "close_window_s": 2,
        "poll_interval_s": 0.01,
    }


@contextmanager
def running_kiosk(
    app: Flask, lockboard: LockBoardSim, prepare: Callable[[Session, World], None] | None = None
) -> Iterator[World]:
    """The seeded site with locker L1 on the Kerong simulator and the crib user (a restocker) who opens kiosks;
    `prepare` adds what a test needs in the same transaction. The runner and the device pool stop afterwards."""
    services = app.extensions["vendtrack"]
    world = seed_world(services.session_factory, kerong_config(lockboard.url))
    with unit_of_work(services.session_factory) as s:
        create_user(s, "crib", "granite-bicycle-3", [Role.RESTOCKER])
        if prepare is not None:
            prepare(s, world)
    try:
        yield world
    finally:
        runtime(services).runner.shutdown()
        runtime(services).pool.close_all()


def browser_sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database with every table, for browser tests (the flows are the same on both databases and
    Chromium is the slow part; the non-browser tests of the same views cover PostgreSQL)."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    engine = make_engine(url)
    load_all_models().create_all(engine)
    engine.dispose()
    return url
