"""The demo's custody story across vending and tracking: a tagged torque wrench lent, followed, overdue, returned.

At 20 s worker W007 takes torque wrench TW-001 from LOCKER-1 (due back 3 minutes later); its tag walks from the
equipment store into Theatre 1, a must-return (FOD) zone with a 1-minute limit, so a "Tool in FOD zone" alert
names W007 about a minute and a half in; at 200 s it is overdue, still in the theatre ("Tool overdue", with
the room it was last heard in); at 250 s it is carried back to the store and at 330 s returned at the locker,
which closes the custody and resolves both alerts. Only `web` may join the two domains; each step goes through
their public services and events (vending's checkout publishes ToolCheckedOut, tracking follows the tag).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.clock import Clock
from core.db import unit_of_work
from core.runtime import AppServices, LoopWorker
from tracking.cli import demo_tag_key
from tracking.demo import FOD_ZONE, STATE_KEY, WRENCH, WRENCH_HOME, WRENCH_TAG
from tracking.simrun import LiveSimulator
from vending import tools
from vending.models import Worker

HOLDER = "W007"
MACHINE = "LOCKER-1"
DUE_AFTER = timedelta(minutes=3)


class CustodyStory:
    """Runs each step of the story once when its time (seconds after the first call) has come."""

    def __init__(self, services: AppServices, simulator: Callable[[], LiveSimulator | None],
                 clock: Clock | None = None) -> None:  # fmt: skip
        self.services, self.simulator = services, simulator
        self.clock: Clock = clock or services.clock
        self.started: float | None = None
        self.steps: list[tuple[float, str, Callable[[], None]]] = [
            (20.0, f"{HOLDER} takes {WRENCH[0]} from {MACHINE}", self._check_out),
            (22.0, f"{WRENCH[0]} carried into {FOD_ZONE} (FOD zone)", lambda: self._walk(FOD_ZONE)),
            (250.0, f"{WRENCH[0]} carried back to the store", lambda: self._walk(WRENCH_HOME)),
            (330.0, f"{WRENCH[0]} returned at {MACHINE}", self._return),
        ]
        self.done: list[str] = []

    def step(self) -> None:
        now = self.clock.now().timestamp()
        if self.started is None:
            self.started = now
        while self.steps and now - self.started >= self.steps[0][0]:
            _at, what, action = self.steps.pop(0)
            action()
            self.done.append(what)

    def _check_out(self) -> None:
        clock = self.clock
        with unit_of_work(self.services.session_factory) as session:
            worker_id = session.scalar(select(Worker.id).where(Worker.worker_code == HOLDER))
            if worker_id is None:
                return  # the vending demo is not part of this app
            tools.checkout(session, WRENCH[0], worker_id, clock.now() + DUE_AFTER, clock.now(), actor="demo",
                           machine=MACHINE, charge_code="WO-4471")  # fmt: skip

    def _return(self) -> None:
        with unit_of_work(self.services.session_factory) as session:
            tools.return_tool(session, WRENCH[0], "ok", self.clock.now(), actor="demo", machine=MACHINE)

    def _walk(self, zone: str) -> None:
        simulator = self.simulator()
        if simulator is not None:
            simulator.send_to(demo_tag_key(WRENCH_TAG), zone)


def custody_worker(services: AppServices, state: dict[str, Any]) -> LoopWorker:
    """The story on a one-second loop, using the tracking demo's simulator once it runs."""
    story = CustodyStory(services, lambda: state.get(STATE_KEY))
    return LoopWorker("demo-custody", story.step, interval=1.0)
