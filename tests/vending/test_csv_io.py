"""CSV import/export for items, workers and planograms: one error per bad row, good rows kept."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.models import Item
from tests.vending.conftest import World
from vending import csv_io
from vending.models import Slot, Worker


def test_import_keeps_good_rows_and_names_each_bad_one(session_factory: sessionmaker[Session], world: World) -> None:
    items = (
        "sku,name,category,unit_of_measure,unit_cost,active\nNEW-1,Tape,general,EA,1.20,yes\n,No sku,x,EA,1,yes\n"
        "NEW-2,Glue,general,EA,abc,yes\nNEW-3,Rags,general,EA,0.5,no\n"
    )
    workers = (
        "worker_code,name,groups,badges,pin,restocker,active\nW9,Nine,fitters;night,123:45678,4321,yes,yes\n"
        "W8,Eight,,04A21B1C,,no,yes\nW7,Seven,,,12,no,yes\n"
    )
    planogram = (
        "machine,slot,sku,device_ref,capacity,min_level,max_level,unit_weight_g\n"
        "L1,A9,NEW-1,A9,4,1,4,\nL1,A8,NOPE,A8,4,1,4,\nNOPE,A7,NEW-1,A7,4,1,4,\nL1,A6,NEW-1,A6,4,5,4,\n"
    )
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "items", items, world.site_id)
        assert report.imported == 2
        assert [(e.line, e.column) for e in report.errors] == [(3, "sku"), (4, "unit_cost")]
        assert "sku is empty" in report.errors[0].message
        assert "unit_cost 'abc' is not a number: write it like 2.50" in report.errors[1].message
        report = csv_io.import_csv(s, "workers", workers, world.site_id)
        assert report.imported == 1
        assert [e.line for e in report.errors] == [3, 4]
        assert "belongs to another worker" in report.errors[0].message
        assert "PIN must be 4 to 8 digits" in report.errors[1].message
        report = csv_io.import_csv(s, "planogram", planogram, world.site_id)
        assert report.imported == 1
        assert [e.line for e in report.errors] == [3, 4, 5]
    with session_factory() as s:
        assert s.scalar(select(Item.active).where(Item.sku == "NEW-3")) is False
        assert s.scalar(select(Worker.restocker).where(Worker.worker_code == "W9")) is True
        assert s.scalar(select(Slot.capacity).where(Slot.code == "A9")) == 4
        exported = csv_io.export_csv(s, "workers")
        assert "W9,Nine,fitters;night,HID:123:45678,,yes,yes" in exported
        assert csv_io.export_csv(s, "planogram").splitlines()[1] == "L1,A1,GLV-1,A1,5,1,5,"


def test_round_trip_of_items(session_factory: sessionmaker[Session], world: World) -> None:
    with session_factory() as s:
        text = csv_io.export_csv(s, "items")
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "items", text, world.site_id)
    assert report.imported == 3 and not report.errors
