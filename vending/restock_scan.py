"""Restock by scan: a label scanned into a slot is checked against the slot's item, its lot and expiry kept.

A scan is a GS1 element string (`core.gs1`: GTIN (01), batch (10), expiry (17), count (30)/(37)), a bare
GTIN-8/12/13/14 (`Item.gtin`), or the item's SKU, typed or sent by a keyboard-wedge scanner. A label for
another item is refused naming both items and, when this machine has one, the slot the item belongs in;
a label past its expiry is refused; nothing is recorded either way. The quantity is the one asked for,
else the label's count, else the slot's pick quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import gs1
from core.errors import DomainError
from core.models import Item
from core.notes import N_, Note
from vending import restock
from vending.lots import LotRef
from vending.models import Slot

MAX_SCAN = gs1.MAX_SCAN_LENGTH


@dataclass(frozen=True, slots=True)
class Scanned:
    """What a scan said, matched to the slot's item."""

    slot_code: str
    item_name: str
    scanned_as: str  # "GTIN 09521234543213", "SKU GLV-1"
    lot: LotRef | None
    count: int | None  # the label's count (30 or 37), when it has one


@dataclass(frozen=True, slots=True)
class ScanFill:
    scanned: Scanned
    added: int
    on_hand: int


def read(session: Session, machine_id: int, slot_code: str, scan: str, today: date) -> Scanned:
    """Match `scan` to the slot's item, or raise a DomainError (field "scan") saying what is wrong and what to do."""
    text = scan.strip()
    if not text:
        raise DomainError(
            lazy_gettext("scan the label, or type the item's GTIN or SKU, then press Enter"), field="scan"
        )
    if len(text) > MAX_SCAN:
        raise DomainError(
            lazy_gettext(
                "a scan has at most %(max_scan)s characters; this one has %(text)s", max_scan=MAX_SCAN, text=len(text)
            ),
            field="scan",
        )
    slot = restock.slot_of(session, machine_id, slot_code)
    label = gs1.parse(text, today=today) if gs1.looks_like_gs1(text) else None
    if label is not None and label.gtin is None:
        raise DomainError(
            lazy_gettext("the label has no GTIN (01): scan the label's other barcode, or type the SKU"), field="scan"
        )
    gtin = label.gtin if label is not None else (gs1.normalise_gtin(text) if gs1.valid_gtin(text) else None)
    item = session.scalar(select(Item).where(Item.gtin == gtin)) if gtin else None
    scanned_as = f"GTIN {gtin}"
    if item is None and label is None:
        item = session.scalar(select(Item).where(func.lower(Item.sku) == text.lower()))
        scanned_as = f"SKU {item.sku}" if item is not None else scanned_as
    if item is None:
        what = f"GTIN {gtin}" if gtin else f"{text[:40]!r}"
        unknown = lazy_gettext(
            "scanned %(what)s is no item we know: record the GTIN on the item, or type its SKU", what=what
        )
        raise DomainError(unknown, field="scan")
    if item.id != slot.item_id:
        raise DomainError(_wrong_item(session, slot, item, scanned_as), field="scan", code="wrong_item")
    lot = LotRef(label.batch or "", label.expiry) if label is not None and (label.batch or label.expiry) else None
    if lot is not None and lot.expiry is not None and lot.expiry < today:
        expired = lazy_gettext(
            "lot %(batch)s on this label expired on %(expiry)s: do not put it in the machine; take it back to the crib",
            batch=lot.lot or lazy_gettext("(no batch)"),
            expiry=lot.expiry.isoformat(),
        )
        raise DomainError(expired, field="scan", code="expired")
    count = label.count if label is not None else None
    return Scanned(slot.code, item.name, scanned_as, lot, count)


def _wrong_item(session: Session, slot: Slot, scanned: Item, scanned_as: str) -> str:
    held = session.get(Item, slot.item_id) if slot.item_id is not None else None
    holds = f"holds {held.name}" if held is not None else "holds no item yet"
    home = session.scalars(
        select(Slot.code).where(Slot.machine_id == slot.machine_id, Slot.item_id == scanned.id).order_by(Slot.code)
    ).first()
    where = f"put it in slot {home}" if home else f"put it in a slot that holds {scanned.name}"
    return f"scanned {scanned_as} = {scanned.name}; slot {slot.code} {holds}: {where}"


def fill_by_scan(
    session: Session,
    machine_id: int,
    slot_code: str,
    scan: str,
    quantity: int | None,
    *,
    key: str,
    now: datetime,
    today: date,
    worker_id: int | None = None,
    actor: str = "",
) -> ScanFill:
    """Check the scan against the slot and record the fill with its lot; `quantity` None: the label's count, else
    what the pick list asks for (at least 1)."""
    scanned = read(session, machine_id, slot_code, scan, today)
    if quantity is None:
        quantity = scanned.count if scanned.count is not None else _to_pick(session, machine_id, slot_code, today)
    on_hand = restock.record_fill(
        session, machine_id, slot_code, quantity, key=key, now=now, worker_id=worker_id, actor=actor,
        lot=scanned.lot, how=Note.of(N_("scanned %(code)s"), code=scanned.scanned_as),
    )  # fmt: skip
    return ScanFill(scanned, quantity, on_hand)


def _to_pick(session: Session, machine_id: int, slot_code: str, today: date) -> int:
    line = next((p for p in restock.pick_list(session, machine_id, today) if p.slot_code == slot_code), None)
    return max(line.to_pick, 1) if line is not None else 1
