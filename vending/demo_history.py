"""Demo history: a month of takes charged to cost centers, a count difference, short and overdue tool loans.

So the usage charts, the chargeback, the count queue, shrinkage and the overdue list have something to show the
moment the demo starts. Deterministic (a fixed pseudo-random sequence), written through the same services.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.notes import N_, Note
from core.runtime import DemoContext
from vending import ledger, restock, tools
from vending.models import Machine, Slot, ToolLoan, Worker

DAYS = 30
TAKES_PER_DAY = 6
CENTERS = ("CC-100", "CC-200", "CC-300")
HISTORY_SLOTS = (("COIL-1", "11"), ("COIL-1", "12"), ("COIL-1", "13"), ("COIL-1", "14"), ("SHELF-1", "B1"))


def seed(session: Session, demo: DemoContext, items: dict[str, int]) -> None:
    now = demo.services.clock.now()
    slots = {(m, c): slot_id for m, c, slot_id in session.execute(select(Machine.code, Slot.code, Slot.id).join(Slot))}
    workers = {code: wid for code, wid in session.execute(select(Worker.worker_code, Worker.id))}
    pick = random.Random(12)
    for day in range(DAYS, 0, -1):
        for n in range(TAKES_PER_DAY):
            at = now - timedelta(days=day, hours=pick.randint(0, 9), minutes=pick.randint(0, 59))
            slot_id = slots[pick.choice(HISTORY_SLOTS)]
            quantity = pick.randint(1, 3)
            codes = {"cost_center": pick.choice(CENTERS)}
            if pick.random() < 0.3:
                codes["work_order"] = pick.choice(("WO-5001", "WO-5002"))
            key = f"demo-history:{day}:{n}"
            ledger.post(
                session,
                slot_id=slot_id,
                kind="restock",
                quantity=quantity,
                key=key + ":fill",
                at=at - timedelta(minutes=1),
                reason=Note.of(N_("demo history")).encode(),
                actor="demo",
            )
            ledger.post(
                session,
                slot_id=slot_id,
                kind="issue",
                quantity=-quantity,
                key=key,
                at=at,
                worker_id=workers[f"W{pick.randint(1, 19):03d}"],
                charge_codes=codes,
                actor="demo",
            )
    locker = session.scalar(select(Machine.id).where(Machine.code == "LOCKER-1"))
    assert locker is not None
    # the restocker counted 2 in A2 where 3 were expected: waits in the count queue for a manager
    restock.record_count(
        session,
        locker,
        "A2",
        2,
        key="demo-count:A2",
        now=now - timedelta(hours=1),
        worker_id=workers["W020"],
        actor="demo",
    )
    _loans(session, demo, items, workers)


def _loans(session: Session, demo: DemoContext, items: dict[str, int], workers: dict[str, int]) -> None:
    """MM-002 is due back a few minutes after the start (watch it turn overdue); TW-003 is an hour overdue;
    TW-004 came back damaged yesterday and is in repair."""
    now = demo.services.clock.now()
    tools.add_tool(session, "MM-002", items["VND-MULTI"], demo.site_id, inspection_due=now + timedelta(days=60))
    tools.checkout(session, "MM-002", workers["W005"], now + timedelta(minutes=3), now, actor="demo")
    overdue = tools.add_tool(
        session, "TW-003", items["VND-TORQUE"], demo.site_id, calibration_due=now + timedelta(days=120)
    )
    overdue.status = "out"
    session.add(
        ToolLoan(
            tool_id=overdue.id,
            worker_id=workers["W007"],
            out_at=now - timedelta(hours=9),
            due_at=now - timedelta(hours=1),
        )
    )
    tools.add_tool(session, "TW-004", items["VND-TORQUE"], demo.site_id, calibration_due=now + timedelta(days=200))
    yesterday = now - timedelta(days=1)
    tools.checkout(session, "TW-004", workers["W003"], yesterday + timedelta(hours=8), yesterday, actor="demo")
    tools.return_tool(session, "TW-004", "damaged", yesterday + timedelta(hours=6), actor="demo")
