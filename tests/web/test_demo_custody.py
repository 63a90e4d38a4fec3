"""The demo's custody story end to end on a manual clock: vending lends TW-001, the tracking demo's simulated
tag walks it into the theatre (a 1-minute FOD zone), the alerts name the holder, and the return closes it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from core import notes
from core.clock import ManualClock
from core.db import unit_of_work
from core.outbox import ConsumerRegistry, Dispatcher
from core.runtime import DemoContext
from tests.tracking.test_demo_alerts import PipelinePublisher
from tracking import custody
from tracking import demo as tracking_demo
from tracking.models import ToolCustody, TrackingAlert
from tracking.pipeline import Pipeline, TrackingSettings
from vending import demo as vending_demo
from web.demo import seed_core
from web.demo_custody import CustodyStory


def test_the_wrench_is_followed_into_the_fod_zone_named_overdue_and_returned(app: Flask) -> None:
    services = app.extensions["vendtrack"]
    site_id, site_code = seed_core(services)
    demo = DemoContext(services=services, instance_path=Path("."), site_id=site_id, site_code=site_code)
    for seed in (vending_demo.seed, tracking_demo.seed):
        with unit_of_work(services.session_factory) as session:
            seed(session, demo)
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    pipeline = Pipeline(services.session_factory, clock, settings=TrackingSettings(missing_after_s=3600.0))
    pipeline.refresh_floor(force=True)
    simulator = tracking_demo.demo_simulator(PipelinePublisher(pipeline), clock=lambda: clock.now().timestamp())
    registry = ConsumerRegistry()
    registry.register(custody.CONSUMER, list(custody.EVENT_TYPES), custody.handle_event)
    dispatcher = Dispatcher(services.session_factory, registry, clock)
    story = CustodyStory(services, lambda: simulator, clock)
    seen: dict[str, list[str]] = {}
    started = clock.now()
    while clock.now() < started + timedelta(minutes=6) and story.steps:
        clock.advance(seconds=1)
        story.step()
        simulator.step()
        if int((clock.now() - started).total_seconds()) % 5 == 0:
            pipeline.flush()
            dispatcher.drain()
            with services.session_factory() as session:
                for alert in session.scalars(select(TrackingAlert).where(TrackingAlert.subject == "TW-001")):
                    seen.setdefault(alert.kind, [notes.english(alert.message)])
    pipeline.flush()
    dispatcher.drain()
    assert story.done[-1] == "TW-001 returned at LOCKER-1", story.done
    fod, overdue = seen["fod_overstay"][0], seen["tool_overdue"][0]
    assert "Torque wrench 20-100 Nm (TW-001) held by W007 Demo worker 7 has been in Theatre 1 for" in fod
    assert "the zone's FOD limit is 1 min" in fod
    assert "from W007 Demo worker 7; last heard in Theatre 1 at" in overdue
    with services.session_factory() as session:
        loan = session.scalars(select(ToolCustody).where(ToolCustody.serial == "TW-001")).one()
        assert loan.returned_at is not None and loan.return_note == "" and loan.charge_code == "WO-4471"
        live = session.scalars(select(TrackingAlert.kind).where(
            TrackingAlert.subject == "TW-001", TrackingAlert.cleared_at.is_(None))).all()  # fmt: skip
        assert live == []
