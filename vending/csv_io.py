"""CSV import and export for items, workers and planograms: an error per bad row, the good rows kept."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.models import Item
from vending import ledger
from vending.models import Credential, GroupMember, Machine, Slot, SlotStock, Worker, WorkerGroup
from vending.workers import add_badge, create_worker

KINDS = ("items", "workers", "planogram")
COLUMNS = {
    "items": ["sku", "name", "category", "unit_of_measure", "unit_cost", "active"],
    "workers": ["worker_code", "name", "groups", "badges", "pin", "restocker", "active"],
    "planogram": ["machine", "slot", "sku", "device_ref", "capacity", "min_level", "max_level", "unit_weight_g"],
}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    kind: str
    imported: int
    errors: tuple[RowError, ...]


def _int(row: dict[str, str], name: str, default: int | None = None) -> int:
    raw = (row.get(name) or "").strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise DomainError(f"{name} {raw!r} is not a whole number", field=name) from None


def _bool(row: dict[str, str], name: str, default: bool) -> bool:
    raw = (row.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "yes", "true", "y"):
        return True
    if raw in ("0", "no", "false", "n"):
        return False
    raise DomainError(f"{name} {raw!r} is not yes/no", field=name)


def _item_row(session: Session, row: dict[str, str], site_id: int) -> None:
    sku = (row.get("sku") or "").strip()
    if not sku:
        raise DomainError("sku is empty", field="sku")
    try:
        cost = Decimal((row.get("unit_cost") or "0").strip() or "0")
    except InvalidOperation:
        raise DomainError(f"unit_cost {row.get('unit_cost')!r} is not a number", field="unit_cost") from None
    item = session.scalar(select(Item).where(Item.sku == sku)) or Item(sku=sku)
    item.name = (row.get("name") or "").strip() or sku
    item.category = (row.get("category") or "").strip() or "general"
    item.unit_of_measure = (row.get("unit_of_measure") or "").strip() or "EA"
    item.unit_cost = cost
    item.active = _bool(row, "active", True)
    session.add(item)


def _worker_row(session: Session, row: dict[str, str], site_id: int) -> None:
    code = (row.get("worker_code") or "").strip()
    worker = session.scalar(select(Worker).where(Worker.worker_code == code))
    groups = [g.strip() for g in (row.get("groups") or "").split(";") if g.strip()]
    badges = [b.strip() for b in (row.get("badges") or "").split(";") if b.strip()]
    if worker is None:
        worker = create_worker(
            session,
            code,
            row.get("name") or code,
            pin=(row.get("pin") or "").strip(),
            groups=groups,
            badges=badges,
            site_id=site_id,
            restocker=_bool(row, "restocker", False),
            actor="csv",
        )
    else:
        worker.name = (row.get("name") or "").strip() or worker.name
        worker.restocker = _bool(row, "restocker", worker.restocker)
        for badge in badges:
            add_badge(session, worker.id, badge, actor="csv")
    worker.active = _bool(row, "active", True)


def _planogram_row(session: Session, row: dict[str, str], site_id: int) -> None:
    machine = session.scalar(select(Machine).where(Machine.code == (row.get("machine") or "").strip()))
    if machine is None:
        raise DomainError(f"machine {row.get('machine')!r} does not exist: create it first", field="machine")
    code = (row.get("slot") or "").strip()
    if not code:
        raise DomainError("slot is empty", field="slot")
    item = session.scalar(select(Item).where(Item.sku == (row.get("sku") or "").strip()))
    if item is None:
        raise DomainError(f"sku {row.get('sku')!r} is not in the catalog: import items first", field="sku")
    low, high, capacity = _int(row, "min_level", 0), _int(row, "max_level", 1), _int(row, "capacity", 1)
    if not 0 <= low <= high <= capacity:
        raise DomainError("levels must satisfy 0 <= min_level <= max_level <= capacity", field="max_level")
    weight_raw = (row.get("unit_weight_g") or "").strip()
    try:
        weight = float(weight_raw) if weight_raw else None
    except ValueError:
        raise DomainError(f"unit_weight_g {weight_raw!r} is not a number", field="unit_weight_g") from None
    if machine.kind == "scale_shelf" and not weight:
        raise DomainError("a scale shelf slot needs unit_weight_g > 0", field="unit_weight_g")
    slot = session.scalar(select(Slot).where(Slot.machine_id == machine.id, Slot.code == code))
    if slot is None:
        slot = Slot(machine_id=machine.id, code=code, state="ok", state_reason="")
        session.add(slot)
    slot.item_id, slot.device_ref = item.id, (row.get("device_ref") or "").strip() or code
    slot.capacity, slot.min_level, slot.max_level, slot.unit_weight_g = capacity, low, high, weight
    session.flush()
    ledger.lock_stock(session, slot.id)


HANDLERS: dict[str, Callable[[Session, dict[str, str], int], None]] = {
    "items": _item_row,
    "workers": _worker_row,
    "planogram": _planogram_row,
}


def import_csv(session: Session, kind: str, text: str, site_id: int) -> ImportReport:
    """Each row in its own savepoint: a bad row is reported (line and fix) and the rest still import."""
    if kind not in KINDS:
        raise DomainError(f"import kind must be one of {', '.join(KINDS)}", field="kind")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS[kind][:2] if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError(f"the header lacks {', '.join(missing)}; expected {','.join(COLUMNS[kind])}", field="file")
    imported, errors = 0, []
    for line, row in enumerate(reader, start=2):
        try:
            with session.begin_nested():
                HANDLERS[kind](session, row, site_id)
            imported += 1
        except DomainError as exc:
            errors.append(RowError(line, f"{exc.field or 'row'}: {exc.message}" if exc.field else exc.message))
        except Exception as exc:  # a constraint the checks above did not foresee: still only this row
            errors.append(RowError(line, f"{type(exc).__name__}: {exc}"))
    return ImportReport(kind, imported, tuple(errors))


def export_csv(session: Session, kind: str) -> str:
    if kind not in KINDS:
        raise DomainError(f"export kind must be one of {', '.join(KINDS)}", field="kind")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS[kind])
    for row in _rows(session, kind):
        writer.writerow(row)
    return out.getvalue()


def _rows(session: Session, kind: str) -> list[list[Any]]:
    if kind == "items":
        return [
            [i.sku, i.name, i.category, i.unit_of_measure, i.unit_cost, "yes" if i.active else "no"]
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
