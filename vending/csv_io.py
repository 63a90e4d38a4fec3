"""CSV import and export for items, workers and planograms: an error per bad row, the good rows kept."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import gs1
from core.csv_rows import CsvProblem, problems_of, read_rows
from core.errors import DomainError
from core.models import Item
from core.states import shown_as_labels
from core.validation import Bool, Dec, Int, Number, Text, ValidationError, length_of, schema
from vending import languages, ledger
from vending.models import Credential, GroupMember, Machine, Slot, SlotStock, Worker, WorkerGroup
from vending.workers import add_badge, create_worker

KINDS = ("items", "workers", "planogram")
shown_as_labels(KINDS)
COLUMNS = {
    "items": ["sku", "name", "category", "unit_of_measure", "unit_cost", "active", "asset_type", "gtin"],
    "workers": ["worker_code", "name", "groups", "badges", "pin", "restocker", "active", "language"],
    "planogram": ["machine", "slot", "sku", "device_ref", "capacity", "min_level", "max_level", "unit_weight_g"],
}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str
    column: str = "row"


@dataclass(frozen=True, slots=True)
class ImportReport:
    kind: str
    imported: int
    errors: tuple[RowError, ...]


def _list_of(name: str, raw: str, limit: int | None) -> list[str]:
    """'a;b;c' -> ['a', 'b', 'c'], each at most `limit` characters."""
    parts = [p.strip() for p in raw.split(";") if p.strip()]
    too_long = [p for p in parts if limit is not None and len(p) > limit]
    if too_long:
        raise ValidationError.one(
            name,
            lazy_gettext(
                "%(name)s %(too_long)s... is longer than %(limit)s characters",
                name=name,
                too_long=repr(too_long[0][:30]),
                limit=limit,
            ),
        )
    return parts


ITEM_ROW = schema(
    sku=Text.column(Item.sku, required=True, hint="BOLT-M8"),
    name=Text.column(Item.name),
    category=Text.column(Item.category, default="general"),
    unit_of_measure=Text.column(Item.unit_of_measure, default="EA"),
    unit_cost=Dec(minimum=Decimal(0), default=Decimal(0), example="2.50"),
    active=Bool(default=True),
    asset_type=Text.column(Item.asset_type, pattern=r"[a-z0-9_]+", hint="infusion_pump"),  # tracking's type code
    gtin=Text(max_length=20, hint="4006381333931"),
)
WORKER_ROW = schema(
    worker_code=Text.column(Worker.worker_code, required=True, hint="E1042"),
    name=Text.column(Worker.name),
    groups=Text(max_length=2000),
    badges=Text(max_length=2000),
    pin=Text(max_length=100),  # create_worker says what a PIN must be
)
PLANOGRAM_ROW = schema(
    machine=Text.column(Machine.code, required=True, hint="LOCKER-1"),
    slot=Text.column(Slot.code, required=True, hint="A3"),
    sku=Text.column(Item.sku, required=True, hint="BOLT-M8"),
    device_ref=Text.column(Slot.device_ref),
    capacity=Int(minimum=1, maximum=100_000, default=1),
    min_level=Int(minimum=0, maximum=100_000, default=0),
    max_level=Int(minimum=0, maximum=100_000, default=1),
    unit_weight_g=Number(minimum=0.001, maximum=1_000_000, example="12.5"),
)


def _item_row(session: Session, row: dict[str, str], site_id: int) -> None:
    values = ITEM_ROW.parse(row)
    sku = values["sku"]
    item = session.scalar(select(Item).where(Item.sku == sku)) or Item(sku=sku)
    item.name = values["name"] or sku
    item.category, item.unit_of_measure = values["category"], values["unit_of_measure"]
    item.unit_cost, item.active = values["unit_cost"], values["active"]
    if "asset_type" in row:  # the equipment this item buys (PAR shortfalls order it); an empty cell clears it
        item.asset_type = values["asset_type"]
    if values["gtin"]:  # an empty cell keeps the GTIN already recorded
        try:
            item.gtin = gs1.normalise_gtin(values["gtin"])
        except gs1.Gs1Error as exc:
            raise ValidationError.one("gtin", exc.message) from None
    session.add(item)


def _worker_row(session: Session, row: dict[str, str], site_id: int) -> None:
    values = WORKER_ROW.parse(row)
    code = values["worker_code"]
    groups = _list_of("groups", values["groups"], length_of(WorkerGroup.name))
    badges = _list_of("badges", values["badges"], length_of(Credential.value))
    restocker, active = Bool().parse("restocker", row.get("restocker")), Bool(True).parse("active", row.get("active"))
    language = languages.checked(row.get("language"))  # "" = the kiosk's; checked before anything is written
    worker = session.scalar(select(Worker).where(Worker.worker_code == code))
    if worker is None:
        worker = create_worker(
            session,
            code,
            values["name"] or code,
            pin=values["pin"],
            groups=groups,
            badges=badges,
            site_id=site_id,
            restocker=restocker,
            language=language,
            actor="csv",
        )
    else:
        worker.name = values["name"] or worker.name
        worker.restocker = restocker if (row.get("restocker") or "").strip() else worker.restocker
        for badge in badges:
            add_badge(session, worker.id, badge, actor="csv")
        if "language" in row:  # a file without the column keeps each worker's language; an empty cell clears it
            worker.language = language
    worker.active = active


def _planogram_row(session: Session, row: dict[str, str], site_id: int) -> None:
    values = PLANOGRAM_ROW.parse(row)
    machine = session.scalar(select(Machine).where(Machine.code == values["machine"]))
    if machine is None:
        raise ValidationError.one(
            "machine",
            lazy_gettext("machine %(machine)s does not exist: create it first", machine=repr(values["machine"])),
        )
    code = values["slot"]
    item = session.scalar(select(Item).where(Item.sku == values["sku"]))
    if item is None:
        raise ValidationError.one(
            "sku", lazy_gettext("sku %(sku)s is not in the catalog: import items first", sku=repr(values["sku"]))
        )
    low, high, capacity = values["min_level"], values["max_level"], values["capacity"]
    if not 0 <= low <= high <= capacity:
        raise ValidationError.one(
            "max_level", lazy_gettext("levels must satisfy 0 <= min_level <= max_level <= capacity")
        )
    weight = values["unit_weight_g"]
    if machine.kind == "scale_shelf" and not weight:
        raise ValidationError.one("unit_weight_g", lazy_gettext("a scale shelf slot needs unit_weight_g > 0"))
    slot = session.scalar(select(Slot).where(Slot.machine_id == machine.id, Slot.code == code))
    if slot is None:
        slot = Slot(machine_id=machine.id, code=code, state="ok", state_reason="")
        session.add(slot)
    slot.item_id, slot.device_ref = item.id, values["device_ref"] or code
    slot.capacity, slot.min_level, slot.max_level, slot.unit_weight_g = capacity, low, high, weight
    session.flush()
    ledger.lock_stock(session, slot.id)


HANDLERS: dict[str, Callable[[Session, dict[str, str], int], None]] = {
    "items": _item_row,
    "workers": _worker_row,
    "planogram": _planogram_row,
}


def _error(problem: CsvProblem) -> RowError:
    named = problem.message.startswith(problem.column)
    return RowError(problem.line, problem.message if named else f"{problem.column}: {problem.message}", problem.column)


def import_csv(session: Session, kind: str, text: str, site_id: int) -> ImportReport:
    """Each row in its own savepoint: a bad row is reported (line, column and fix) and the rest still import."""
    if kind not in KINDS:
        raise ValidationError.one("kind", lazy_gettext("import kind must be one of %(kinds)s", kinds=", ".join(KINDS)))
    imported, errors = 0, []
    for row in read_rows(text, COLUMNS[kind][:2], COLUMNS[kind]):
        if isinstance(row, CsvProblem):
            errors.append(_error(row))
            continue
        try:
            with session.begin_nested():
                HANDLERS[kind](session, row.values, site_id)
            imported += 1
        except Exception as exc:  # reported for this row only; the other rows still import
            errors.extend(_error(problem) for problem in problems_of(row.line, exc))
    return ImportReport(kind, imported, tuple(errors))


def export_csv(session: Session, kind: str) -> str:
    if kind not in KINDS:
        raise DomainError(lazy_gettext("export kind must be one of %(kinds)s", kinds=", ".join(KINDS)), field="kind")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS[kind])
    for row in _rows(session, kind):
        writer.writerow(row)
    return out.getvalue()


def _rows(session: Session, kind: str) -> list[list[Any]]:
    if kind == "items":
        return [
            [
                i.sku,
                i.name,
                i.category,
                i.unit_of_measure,
                i.unit_cost,
                "yes" if i.active else "no",
                i.asset_type,
                i.gtin or "",
            ]
            for i in session.scalars(select(Item).order_by(Item.sku))
        ]
    if kind == "workers":
        rows = []
        for w in session.scalars(select(Worker).order_by(Worker.worker_code)):
            groups = session.scalars(select(WorkerGroup.name).join(GroupMember).where(GroupMember.worker_id == w.id))
            badges = session.scalars(select(Credential.value).where(Credential.worker_id == w.id))
            rows.append(
                [
                    w.worker_code,
                    w.name,
                    ";".join(sorted(groups)),
                    ";".join(sorted(badges)),
                    "",
                    "yes" if w.restocker else "no",
                    "yes" if w.active else "no",
                    w.language,
                ]
            )
        return rows
    query = (
        select(Machine.code, Slot, Item.sku)
        .join(Slot, Slot.machine_id == Machine.id)
        .join(Item, Item.id == Slot.item_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .order_by(Machine.code, Slot.code)
    )
    return [
        [
            m,
            s.code,
            sku,
            s.device_ref,
            s.capacity,
            s.min_level,
            s.max_level,
            "" if s.unit_weight_g is None else s.unit_weight_g,
        ]
        for m, s, sku in session.execute(query)
    ]
