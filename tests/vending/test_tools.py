"""Returnable tools: checkout with due time, inspection/calibration blocks, return conditions, overdue events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from core.errors import Conflict, DomainError
from core.outbox import OutboxEvent
from tests.vending.conftest import World
from vending import tools
from vending.tool_states import TOOL, ToolStatus


def test_checkout_return_and_overdue(session_factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with unit_of_work(session_factory) as s:
        tools.add_tool(s, "TW-1", world.items["DRL-8"], world.site_id)
        tools.add_tool(s, "TW-2", world.items["DRL-8"], world.site_id, calibration_due=clock.now())
        tools.add_tool(s, "TW-3", world.items["DRL-8"], world.site_id, inspection_due=clock.now() - timedelta(days=1))
    with unit_of_work(session_factory) as s:
        view = tools.checkout(s, "TW-1", world.workers["W1"], clock.now() + timedelta(hours=8), clock.now())
        assert (view.status, view.worker_code) == ("out", "W1")
        with pytest.raises(DomainError, match="due for calibration since 2026-03-02"):
            tools.checkout(s, "TW-2", world.workers["W1"], clock.now() + timedelta(hours=8), clock.now())
        with pytest.raises(DomainError, match="due for inspection"):
            tools.checkout(s, "TW-3", world.workers["W1"], clock.now() + timedelta(hours=8), clock.now())
        with pytest.raises(Conflict, match="is not available: checked out by W1"):
            tools.checkout(s, "TW-1", world.workers["W2"], clock.now() + timedelta(hours=8), clock.now())
    clock.advance(hours=9)
    with unit_of_work(session_factory) as s:
        assert [t.serial for t in tools.overdue(s, clock.now())] == ["TW-1"]
        assert tools.publish_overdue(s, clock.now()) == 1
        assert tools.publish_overdue(s, clock.now()) == 0  # once per loan
    with session_factory() as s:
        payload = json.loads(
            s.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "vending.tool_overdue")).one()
        )["data"]
        assert (payload["serial"], payload["worker"], payload["sku"]) == ("TW-1", "W1", "DRL-8")


@pytest.mark.parametrize(("condition", "status"), [("ok", "available"), ("damaged", "repair"), ("lost", "lost")])
def test_return_conditions(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock, condition: str, status: str
) -> None:
    with unit_of_work(session_factory) as s:
        tools.add_tool(s, "MM-1", world.items["DRL-8"], world.site_id)
        tools.checkout(s, "MM-1", world.workers["W2"], clock.now() + timedelta(hours=1), clock.now())
        assert tools.return_tool(s, "MM-1", condition, clock.now()).status == status
        if condition == "damaged":
            assert tools.repaired(s, "MM-1", "user:admin").status == "available"


def test_a_lost_tool_stays_lost_and_a_tool_not_in_repair_cannot_be_marked_repaired(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    """The tool table (vending.tool_states.TOOL) decides: lost is final; only a tool in repair is repaired."""
    with unit_of_work(session_factory) as s:
        tools.add_tool(s, "LT-1", world.items["DRL-8"], world.site_id)
        with pytest.raises(Conflict, match="not in repair"):
            tools.repaired(s, "LT-1", "user:admin")
        tools.checkout(s, "LT-1", world.workers["W2"], clock.now() + timedelta(hours=1), clock.now())
        tools.return_tool(s, "LT-1", "lost", clock.now())
        with pytest.raises(Conflict, match="is not available: reported lost"):
            tools.checkout(s, "LT-1", world.workers["W1"], clock.now() + timedelta(hours=1), clock.now())
        assert TOOL.allowed(ToolStatus.LOST) == frozenset()


def test_every_tool_with_its_last_return_in_one_read(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    """all_tools (the kiosk's status, the tools report): each tool's open loan and only its latest return."""
    with unit_of_work(session_factory) as s:
        for serial in ("LR-1", "LR-2", "LR-3"):
            tools.add_tool(s, serial, world.items["DRL-8"], world.site_id)
        tools.checkout(s, "LR-1", world.workers["W1"], clock.now() + timedelta(hours=1), clock.now())
        tools.return_tool(s, "LR-1", "ok", clock.now())
        clock.advance(hours=1)
        tools.checkout(s, "LR-1", world.workers["W2"], clock.now() + timedelta(hours=1), clock.now())
        tools.return_tool(s, "LR-1", "damaged", clock.now())
        tools.checkout(s, "LR-2", world.workers["W1"], clock.now() + timedelta(hours=2), clock.now())
    with session_factory() as s:
        found = {view.serial: view for view in tools.all_tools(s)}
    assert list(found) == ["LR-1", "LR-2", "LR-3"]
    last = found["LR-1"].last_return
    assert last is not None and (last.worker_code, last.condition, last.at) == ("W2", "damaged", clock.now())
    assert found["LR-1"].status == "repair" and found["LR-1"].worker_code is None
    assert found["LR-2"].last_return is None and (found["LR-2"].worker_code, found["LR-2"].status) == ("W1", "out")
    assert found["LR-3"].last_return is None and found["LR-3"].due_at is None
    assert "returned damaged by W2" in tools.unavailable_reason(found["LR-1"], clock.now())


def test_why_a_tool_is_unavailable_reads_in_the_readers_language_and_the_sites_zone(
    app: Flask, session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    """Its times and days are typed (core.notes): not UTC text and ISO days whatever the reader's language."""
    with unit_of_work(session_factory) as s:
        tools.add_tool(s, "TW-7", world.items["DRL-8"], world.site_id, calibration_due=clock.now())
        tools.add_tool(s, "TW-8", world.items["DRL-8"], world.site_id)
    with unit_of_work(session_factory) as s:
        tools.checkout(s, "TW-8", world.workers["W1"], clock.now() + timedelta(hours=8), clock.now())
    with session_factory() as s:
        views = {v.serial: v for v in tools.all_tools(s)}
    due = clock.now() + timedelta(hours=8)
    english = tools.unavailable_reason(views["TW-8"], clock.now())
    assert english == f"checked out by W1, due {due:%Y-%m-%d %H:%M} UTC"  # outside a request: English, UTC named
    with app.test_request_context("/"), force_locale("de"):
        german = tools.unavailable_reason(views["TW-8"], clock.now())
        calibration = tools.unavailable_reason(views["TW-7"], clock.now())
    assert german.startswith("ausgeliehen von W1, fällig ") and f"{due:%d.%m.%Y}" in german, german
    assert "UTC UTC" not in german and f"{due:%Y-%m-%d}" not in german
    assert calibration == f"Kalibrierung fällig seit {clock.now():%d.%m.%Y}", calibration
