"""Change feed end to end in one process: a central app over HTTP (SQLite or PostgreSQL), an edge on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import fleet_central, fleet_edge
from core.db import make_engine, unit_of_work
from core.errors import Forbidden
from core.models import Item, Site
from migrations.models import load_all_models
from tests.conftest import LiveServer
from vending import rules
from vending.models import Machine, Rule, Slot, Worker


@pytest.fixture
def central(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, str]]:
    from web.app import create_app

    monkeypatch.setenv("VENDTRACK_FLEET_CENTRAL", "1")
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "central"), "TESTING": True})
    monkeypatch.delenv("VENDTRACK_FLEET_CENTRAL")
    with LiveServer(app) as server:
        yield app, server.url


def _factory(app: Flask) -> sessionmaker[Session]:
    return app.extensions["vendtrack"].session_factory  # type: ignore[no-any-return]


def _seed(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        a, b = Site(code="PA", name="Plant A"), Site(code="PB", name="Plant B")
        s.add_all([a, b, Item(sku="GLV-1", name="Gloves", category="ppe")])
        s.flush()
        s.add_all(
            [Worker(worker_code="W1", name="Ann", site_id=None), Worker(worker_code="W2", name="Bo", site_id=b.id)]
        )
        s.add_all(
            [
                Machine(code="VM-A", name="A", site_id=a.id, kind="coil_machine"),
                Machine(code="VM-B", name="B", site_id=b.id, kind="coil_machine"),
            ]
        )
        s.flush()
        machine = s.scalar(select(Machine).where(Machine.code == "VM-A"))
        assert machine is not None
        s.add(Slot(machine_id=machine.id, code="11", item_id=s.scalar(select(Item.id))))
        s.add(Rule(name="Gloves per day", quantity=2, window="day", item_id=s.scalar(select(Item.id))))


def _edge(tmp_path: Path, url: str, code: str) -> tuple[Flask, fleet_edge.FleetLink]:
    from web import fleet_plugin
    from web.app import create_app

    db_url = f"sqlite:///{tmp_path / 'edge.db'}"
    engine = make_engine(db_url)
    load_all_models().create_all(engine)
    engine.dispose()
    instance = tmp_path / "edge"
    fleet_edge.save_identity(instance, fleet_edge.enrol(url, code))
    app = create_app({"DATABASE_URL": db_url, "INSTANCE_PATH": str(instance), "TESTING": True})
    link = fleet_plugin.link(app.extensions["vendtrack"])
    assert link is not None
    return app, link


def test_configuration_comes_down_and_edits_on_the_edge_are_refused(central: tuple[Flask, str], tmp_path: Path) -> None:
    app, url = central
    factory = _factory(app)
    _seed(factory)
    with unit_of_work(factory) as s:
        _edge_row, code = fleet_central.create_edge(s, "edge-a", "PA", "VM-A", "test", datetime.now(UTC))
    try:
        edge_app, link = _edge(tmp_path, url, code)
        assert link.step().startswith("applied")
        edge_factory = _factory(edge_app)
        with unit_of_work(edge_factory) as s:
            assert set(s.scalars(select(Machine.code))) == {"VM-A"}  # its site only
            assert set(s.scalars(select(Worker.worker_code))) == {"W1"}  # W2 works at the other site
            assert s.scalar(select(Rule.quantity)) == 2
        with unit_of_work(factory) as s:  # central: deactivate the worker, raise the limit
            worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
            rule = s.scalar(select(Rule))
            assert worker is not None and rule is not None
            worker.active, rule.quantity = False, 5
        assert link.step().startswith("applied 2")
        assert link.step().startswith("unchanged")  # conditional request: 304
        with unit_of_work(edge_factory) as s:
            assert s.scalar(select(Worker.active).where(Worker.worker_code == "W1")) is False
            assert s.scalar(select(Rule.quantity)) == 5
            worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
            assert worker is not None
            worker.failed_pins = 3  # the edge's own lockout counter: allowed
        with pytest.raises(Forbidden, match=f"edit them at {url}/vending/workers"), unit_of_work(edge_factory) as s:
            worker = s.scalar(select(Worker).where(Worker.worker_code == "W1"))
            assert worker is not None
            worker.name = "changed on the edge"
        with unit_of_work(factory) as s:
            edge_row = s.scalar(select(fleet_central.FleetEdge))
            assert edge_row is not None and edge_row.config_version > 0 and edge_row.last_contact_at is not None
            fleet_central.revoke(s, edge_row.id, "computer stolen", "test", datetime.now(UTC))
        outcome = link.step()
        assert "computer stolen" in outcome and "vendtrack edge enrol" in outcome
        assert link.step().startswith("stopped: ")
        health = edge_app.test_client().get("/healthz").get_json()
        assert "computer stolen" in health["fleet"]["stopped"] and health["status"] == "degraded"
    finally:
        rules.remote_usage_source = None
