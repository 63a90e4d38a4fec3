"""Vending demo: a Kerong locker bank, a coil machine and a weigh-scale shelf (all simulated), twenty workers, rules.

Two slots hold batteries by lot: LOCKER-1 A4 a lot that expired six days ago (the kiosk refuses it, the pick
list asks to pull it), CABINET-1 C2 a lot expiring in ten days. The batteries carry GS1's demonstration GTIN
09521234543213 (GS1 General Specifications examples), so a label such as (01)09521234543213(17)…(10)…(30)2
can be typed into the pick list's scan field.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.models import Item
from core.notes import N_, Note
from core.runtime import BackgroundWorker, DemoContext
from vending import charges, demo_history, ledger, tools
from vending.lots import LotRef
from vending.models import Machine, Rule, Slot
from vending.simulated import start_simulators
from vending.workers import create_worker

ITEMS = [  # i18n: demo data, as typed; sku, name, category, unit cost
    ("VND-GLOVE-9", "Cut-resistant gloves size 9", "ppe", "6.40"),
    ("VND-GLASSES", "Safety glasses, clear", "ppe", "4.10"),
    ("VND-EARPLUG", "Ear plugs (pair)", "ppe", "0.35"),
    ("VND-DISC-125", "Cutting disc 125 mm", "abrasives", "1.90"),
    ("VND-DRILL-8", "HSS drill bit 8 mm", "cutting", "3.20"),
    ("VND-BATT-AA", "AA batteries (4)", "electrical", "3.60"),
    ("VND-TAPE", "Insulation tape", "electrical", "1.10"),
    ("VND-MARKER", "Paint marker", "general", "2.30"),
    ("VND-TORQUE", "Torque wrench 20-100 Nm", "tools", "180.00"),
    ("VND-MULTI", "Multimeter", "tools", "95.00"),
]
LOCKER = (  # i18n: demo data, as typed
    "LOCKER-1",
    "Kerong locker bank",
    [("A1", "VND-GLOVE-9"), ("A2", "VND-GLASSES"), ("A3", "VND-DRILL-8"), ("A4", "VND-BATT-AA")],
)
COIL = (  # i18n: demo data, as typed
    "COIL-1",
    "Coil machine",
    [("11", "VND-EARPLUG"), ("12", "VND-DISC-125"), ("13", "VND-TAPE"), ("14", "VND-MARKER")],
)
SHELF = ("SHELF-1", "Weigh-scale shelf", [("B1", "VND-EARPLUG"), ("B2", "VND-DISC-125")])  # i18n: demo data, as typed
# 0x8A/0x80 XOR lock board (docs/hardware.md), doors C1..C3 on locks 1..3 of board 1
CABINET = (  # i18n: demo data, as typed
    "CABINET-1",
    "Supply cabinet (XOR lock board)",
    [("C1", "VND-GLASSES"), ("C2", "VND-BATT-AA"), ("C3", "VND-TAPE")],
)
SHELF_UNIT_GRAMS = {"B1": 4.0, "B2": 110.0}  # a corded pair of earplugs in its bag; a 125 mm grinding disc
GROUPS = ["fitters", "welders", "electricians", "maintenance"]
COST_CENTERS = [  # i18n: demo data, as typed
    ("CC-100", "Assembly line"), ("CC-200", "Maintenance"), ("CC-300", "Welding shop")
]
DEMO_GTINS = {"VND-BATT-AA": "09521234543213"}  # GS1's own demonstration GTIN (company prefix 952: examples)
EXPIRED_LOT = ("LOCKER-1", "A4", "AA-2311", -6)  # machine, slot, batch, expiry in days from today
FRESH_LOT = ("CABINET-1", "C2", "AA-2412", 10)
WORK_ORDERS = [("WO-5001", "Conveyor 3 overhaul"), ("WO-5002", "Press 7 guard refit")]  # i18n: demo data, as typed


def _items(session: Session) -> dict[str, int]:
    found = {}
    for sku, name, category, cost in ITEMS:
        item = session.scalar(select(Item).where(Item.sku == sku))
        if item is None:
            item = Item(
                sku=sku, name=name, category=category, unit_cost=Decimal(cost), unit_of_measure="EA", active=True,
                gtin=DEMO_GTINS.get(sku),
            )  # fmt: skip
            session.add(item)
            session.flush()
        found[sku] = item.id
    return found


def badge_of(number: int) -> str:
    """The demo badge of worker `number` (1-20): a 4-byte MIFARE UID."""
    return f"04{number:02X}A1{(0x30 + number):02X}"


def _machine(
    session: Session, demo: DemoContext, spec: tuple[str, str, list[tuple[str, str]]], kind: str, items: dict[str, int]
) -> None:
    code, name, slots = spec
    machine = Machine(code=code, name=name, site_id=demo.site_id, kind=kind, driver_config="{}", active=True)
    session.add(machine)
    session.flush()
    capacity = {"locker_bank": 4, "supply_cabinet": 4, "coil_machine": 12, "scale_shelf": 60}[kind]
    for code_, sku in slots:
        slot = Slot(
            machine_id=machine.id,
            code=code_,
            item_id=items[sku],
            device_ref=code_,
            capacity=capacity,
            min_level=1 if kind in ("locker_bank", "supply_cabinet") else 3,
            max_level=capacity,
            unit_weight_g=SHELF_UNIT_GRAMS.get(code_, 25.0) if kind == "scale_shelf" else None,
            state="ok",
            state_reason="",
        )
        session.add(slot)
        session.flush()
        fill = 40 if kind == "scale_shelf" else capacity - 1
        ledger.post(  # two battery slots hold a lot each, one expired: see the module
            session,
            slot_id=slot.id,
            kind="restock",
            quantity=fill,
            key=f"demo:{code}:{code_}",
            at=demo.services.clock.now(),
            reason=Note.of(N_("demo fill")).encode(),
            actor="demo",
            lot=_demo_lot(code, code_, demo.services.clock.now().date()),
        )


def _demo_lot(machine: str, slot: str, today: date) -> LotRef | None:
    for lot_machine, lot_slot, batch, days in (EXPIRED_LOT, FRESH_LOT):
        if (lot_machine, lot_slot) == (machine, slot):
            return LotRef(batch, today + timedelta(days=days))
    return None


def seed(session: Session, demo: DemoContext) -> None:
    items = _items(session)
    _machine(session, demo, LOCKER, "locker_bank", items)
    _machine(session, demo, COIL, "coil_machine", items)
    _machine(session, demo, SHELF, "scale_shelf", items)
    _machine(session, demo, CABINET, "supply_cabinet", items)
    for n in range(1, 21):
        create_worker(
            session,
            f"W{n:03d}",
            f"Demo worker {n}",
            pin="1234",
            groups=[GROUPS[n % len(GROUPS)]],
            badges=[badge_of(n)],
            site_id=demo.site_id,
            restocker=n == 20,
            actor="demo",
        )
    session.add_all(
        [
            Rule(name="Gloves per shift", quantity=2, window="shift", item_id=items["VND-GLOVE-9"], active=True),
            Rule(name="Cutting discs per day", quantity=10, window="day", category="abrasives", active=True),
            Rule(
                name="Batteries per 24 h",
                quantity=2,
                window="rolling",
                rolling_hours=24,
                item_id=items["VND-BATT-AA"],
                active=True,
            ),
        ]
    )
    charges.set_mode(session, demo.site_id, "cost_center", "in_list")  # required, from the list below
    charges.set_mode(session, demo.site_id, "work_order", "optional")
    for code, name in COST_CENTERS:
        charges.add_code(session, demo.site_id, "cost_center", code, name)
    for code, name in WORK_ORDERS:
        charges.add_code(session, demo.site_id, "work_order", code, name)
    now = demo.services.clock.now()
    tools.add_tool(session, "TW-001", items["VND-TORQUE"], demo.site_id, calibration_due=now + timedelta(days=90))
    tools.add_tool(session, "TW-002", items["VND-TORQUE"], demo.site_id, calibration_due=now - timedelta(days=2))
    tools.add_tool(session, "MM-001", items["VND-MULTI"], demo.site_id, inspection_due=now + timedelta(days=30))
    demo_history.seed(session, demo, items)


def start(demo: DemoContext) -> list[BackgroundWorker]:
    """Start the simulators, point each machine's driver configuration at them, keep them in demo.state."""
    sims = start_simulators(
        locker_slots=[code for code, _ in LOCKER[2]],
        coil_selections=[int(c) for c, _ in COIL[2]],
        shelf_bins=[code for code, _ in SHELF[2]],
        shelf_unit_grams=[SHELF_UNIT_GRAMS.get(code, 25.0) for code, _ in SHELF[2]],
        cabinet_slots=[code for code, _ in CABINET[2]],
        person_hold=1.0,
        fast=False,
    )
    with unit_of_work(demo.services.session_factory) as session:
        machines = ((LOCKER[0], "locker_bank"), (COIL[0], "coil_machine"), (SHELF[0], "scale_shelf"),
                    (CABINET[0], "supply_cabinet"))  # fmt: skip
        for code, kind in machines:
            machine = session.scalar(select(Machine).where(Machine.code == code))
            if machine is not None:
                machine.driver_config = json.dumps(sims.configs[kind])
    demo.state["vending.sims"] = sims
    demo.notes.append(
        f"vending: kiosks at /kiosk/{LOCKER[0]}, /kiosk/{COIL[0]}, /kiosk/{SHELF[0]}, /kiosk/{CABINET[0]} "
        f"(log in as admin or restocker first); badge of worker W001 = {badge_of(1)}, "
        "any worker ID W001-W020 with PIN 1234"
    )
    return [_SimulatorStopper(sims)]


class _SimulatorStopper:
    name = "vending-simulators"

    def __init__(self, sims: object) -> None:
        self.sims = sims

    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.sims.stop()  # type: ignore[attr-defined]
