"""CSV import/export for items, workers and planograms: one error per bad row, good rows kept."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
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


def test_item_gtins_are_checked_normalised_and_exported(session_factory: sessionmaker[Session], world: World) -> None:
    text = "sku,name,gtin\nGT-1,Tape,4006381333931\nGT-2,Glue,4006381333932\nGT-3,Wipe,\n"
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "items", text, world.site_id)
    assert report.imported == 2 and len(report.errors) == 1
    assert report.errors[0].line == 3 and "check digit" in report.errors[0].message
    with session_factory() as s:
        exported = csv_io.export_csv(s, "items")
    assert [line.split(",")[-1] for line in exported.splitlines() if line.startswith("GT-")] == ["04006381333931", ""]


# ---- hostile rows: each refused with its line and column, every good row kept ---------------------------------

HOSTILE_COST = ["-5", "1e308", "NaN", "inf", "-Infinity", "1e400", "12345678901", "0.00001", "abc", "1e20"]


def test_items_refuse_bad_money_and_wrong_column_counts(session_factory: sessionmaker[Session], world: World) -> None:
    rows = ["sku,name,category,unit_of_measure,unit_cost,active", "GOOD-1,Tape,general,EA,1.20,yes"]
    rows += [f"BAD-{n},Bad,general,EA,{cost},yes" for n, cost in enumerate(HOSTILE_COST)]
    rows += ["SHORT,Only two", "LONG,a,b,c,1,yes,extra", "\x00NUL,x,general,EA,1,yes", "X" * 100_000 + ",Big,g,EA,1,y"]
    rows += ["GOOD-2,Caf\u0065\u0301,general,EA,9999999999.9999,no"]
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "items", "\n".join(rows) + "\n", world.site_id)
    assert report.imported == 2
    by_line = {e.line: e for e in report.errors}
    assert sorted(by_line) == list(range(3, 3 + len(HOSTILE_COST) + 4))
    for line in range(3, 3 + len(HOSTILE_COST)):
        assert by_line[line].column == "unit_cost" and "unit_cost" in by_line[line].message
    short, long_, nul, big = (by_line[3 + len(HOSTILE_COST) + i] for i in range(4))
    assert "2 columns but the header has 6" in short.message and "7 columns" in long_.message
    assert nul.column == "sku" and "NUL" in nul.message
    assert big.column == "sku" and "shorten it to 64" in big.message
    assert not any("SQL" in e.message or "Error" in e.message for e in report.errors)
    with session_factory() as s:
        stored = dict(s.execute(select(Item.sku, Item.unit_cost).where(Item.sku.like("GOOD-%"))).all())
        assert stored == {"GOOD-1": Decimal("1.2000"), "GOOD-2": Decimal("9999999999.9999")}
        assert s.scalar(select(Item.name).where(Item.sku == "GOOD-2")) == "Café"  # stored NFC
        assert s.scalar(select(Item.id).where(Item.sku.like("BAD-%"))) is None


cell = st.one_of(st.sampled_from([*HOSTILE_COST, "", "\x00", "x" * 300, "\u202e", "\ud800"]), st.text(max_size=12))


@given(bad_rows=st.lists(st.lists(cell, min_size=1, max_size=8), max_size=6), good=st.integers(1, 4))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_hostile_rows_never_lose_good_ones(
    session_factory: sessionmaker[Session], world: World, bad_rows: list[list[str]], good: int
) -> None:
    lines = ["sku,name,category,unit_of_measure,unit_cost,active"]
    expected = {}
    for n in range(good):
        lines.append(f"KEEP-{n},Kept {n},general,EA,{n}.25,yes")
        expected[f"KEEP-{n}"] = Decimal(f"{n}.25")
    for row in bad_rows:
        out = io.StringIO()
        csv.writer(out).writerow([c.replace("\ud800", "?") for c in row])
        lines.append(out.getvalue().rstrip("\r\n"))
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "items", "\n".join(lines) + "\n", world.site_id)
    assert not any("SQL" in e.message for e in report.errors)
    with session_factory() as s:
        kept = dict(s.execute(select(Item.sku, Item.unit_cost).where(Item.sku.like("KEEP-%"))).all())
        for sku, cost in expected.items():
            assert kept[sku] == cost
        for name in s.scalars(select(Item.sku)):
            assert "\x00" not in name and len(name) <= 64
        s.execute(delete(Item).where(Item.sku.notin_(["GLV-1", "DRL-8", "EAR-1"])))
        s.commit()


def test_a_file_that_is_not_utf8_is_refused_naming_the_file() -> None:
    from core.csv_rows import decode_upload
    from core.validation import ValidationError

    with pytest.raises(ValidationError) as caught:
        decode_upload(b"sku,name\n\xff\xfeoops\n")
    assert caught.value.field == "file" and "CSV UTF-8" in caught.value.message


def test_workers_language_round_trip(session_factory: sessionmaker[Session], world: World) -> None:
    """The language column: exported, read back unchanged, a bad code refused naming every supported one."""
    text = (
        "worker_code,name,groups,badges,pin,restocker,active,language\n"
        "W9,Nine,,,,no,yes,DE\nW8,Eight,,,,no,yes,es-MX\nW7,Seven,,,,no,yes,fr\nW6,Six,,,,no,yes,\n"
    )
    with unit_of_work(session_factory) as s:
        report = csv_io.import_csv(s, "workers", text, world.site_id)
    assert report.imported == 3 and [(e.line, e.column) for e in report.errors] == [(4, "language")]
    said = report.errors[0].message
    assert "'fr' is not a supported language" in said and "de (Deutsch), en (English), es (Español)" in said
    with session_factory() as s:
        exported = csv_io.export_csv(s, "workers")
    rows = {r["worker_code"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert (rows["W9"]["language"], rows["W8"]["language"], rows["W6"]["language"], rows["W1"]["language"]) == (
        "de", "es", "", ""
    )  # fmt: skip
    assert "W7" not in rows
    with unit_of_work(session_factory) as s:  # the export read back changes nothing
        s.execute(delete(Worker).where(Worker.worker_code.in_(["W9", "W8", "W6"])))
        again = csv_io.import_csv(s, "workers", exported, world.site_id)
    assert not again.errors
    with session_factory() as s:
        assert csv_io.export_csv(s, "workers") == exported
    with unit_of_work(session_factory) as s:  # a file without the column keeps each worker's language
        assert not csv_io.import_csv(s, "workers", "worker_code,name\nW9,Nine again\n", world.site_id).errors
    with session_factory() as s:
        assert s.scalar(select(Worker.language).where(Worker.worker_code == "W9")) == "de"
