"""Procurement demo data (three suppliers with price breaks, min/max policies) and the smoke flow to an e-mail."""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.events import ItemDispensed, StockLevelChanged
from core.models import Item
from core.outbox import publish
from core.runtime import DemoContext, SmokeResult
from procurement import approval, config, transmit
from procurement.models import PurchaseOrder, PurchaseOrderLine, SiteProcurementSettings, SupplierItem
from procurement.smtp_capture import SmtpCapture
from procurement.suppliers import SupplierData, save_supplier, set_price_breaks

ACTOR = "demo"
ITEMS = [  # i18n: demo data, as typed; sku, name, category, min, max, on hand after the demo's dispenses
    ("PRC-GLOVE-L", "Nitrile gloves, size L (box of 100)", "consumables", 10, 40, 8),
    ("PRC-WIPE", "Surface disinfectant wipes", "consumables", 6, 24, 2),
    ("PRC-DRILL-6", "HSS twist drill 6 mm", "cutting", 20, 60, 5),
    ("PRC-INSERT", "Carbide insert CNMG 120408", "cutting", 10, 50, 12),
    ("PRC-EARPLUG", "Foam ear plugs (pair)", "safety", 50, 200, 150),
    ("PRC-VISOR", "Face shield visor (no supplier yet: a replenishment exception)", "safety", 4, 12, 1),
]
# equipment bought when tracking's PAR shortfall outlasts rebalancing (the demo ward's ICU ventilators)
EQUIPMENT = ("PRC-VENT", "ICU ventilator", "equipment", "ventilator")  # i18n: demo data, as typed
SUPPLIERS = [
    SupplierData("ACME", "Acme & Sons Industrial", "orders@acme.example", "USD", "Net 30",
                 "12 Foundry Lane\nSpringfield"),
    SupplierData("OMEGA", "Ωμέγα Εργαλεία Α.Ε.", "po@omega.example", "USD", "Net 45", "Οδός Αθηνάς 5\nΑθήνα"),
    SupplierData("SZTOOL", "深圳工具有限公司", "sales@sztool.example", "USD", "Prepaid", "南山区科技园\n深圳"),
    SupplierData("NORTH", "Northfield Safety & MRO Supply", "orders@northfield.example", "USD", "Net 30",
                 "400 Mill Road\nSpringfield"),
]  # fmt: skip
OFFERS = [  # supplier, sku, part, pack, moq, lead, priority, breaks
    ("ACME", "PRC-GLOVE-L", "AC-GL-100L", 6, 6, 3, 10, [(1, "9.80"), (24, "9.20"), (60, "8.75")]),
    ("ACME", "PRC-WIPE", "AC-WP-200", 4, 4, 3, 10, [(1, "4.50"), (40, "4.10")]),
    ("OMEGA", "PRC-DRILL-6", "ΩD-0600", 10, 10, 10, 10, [(1, "3.40"), (50, "2.95"), (200, "2.60")]),
    ("OMEGA", "PRC-INSERT", "ΩI-CNMG", 10, 10, 10, 10, [(1, "7.90"), (100, "7.10")]),
    ("SZTOOL", "PRC-DRILL-6", "SZ-钻头-6", 50, 50, 30, 1, [(1, "1.90"), (500, "1.60")]),
    ("SZTOOL", "PRC-EARPLUG", "SZ-耳塞", 50, 50, 20, 5, [(1, "0.22"), (1000, "0.18")]),
    ("NORTH", "PRC-VENT", "NF-VENT-ICU", 1, 1, 21, 10, [(1, "14500.00")]),
]
# What the vending demo's machines stock (SKUs seeded by vending): every one has a supplier item and a price, so a
# dispense at a machine becomes an order. Cutting items come from OMEGA, whose category stays under review.
MACHINE_OFFERS = [  # supplier, sku, part, pack, moq, lead, priority, breaks
    ("NORTH", "VND-GLOVE-9", "NF-CRG-9", 1, 1, 2, 10, [(1, "6.40"), (12, "5.90")]),
    ("NORTH", "VND-GLASSES", "NF-SG-CLR", 1, 1, 2, 10, [(1, "4.10"), (12, "3.80")]),
    ("NORTH", "VND-EARPLUG", "NF-EP-PR", 10, 10, 2, 10, [(1, "0.35"), (200, "0.29")]),
    ("NORTH", "VND-BATT-AA", "NF-AA-4", 1, 1, 3, 10, [(1, "3.60"), (24, "3.20")]),
    ("NORTH", "VND-TAPE", "NF-IT-19", 1, 1, 3, 10, [(1, "1.10"), (50, "0.95")]),
    ("NORTH", "VND-MARKER", "NF-PM-YEL", 1, 1, 3, 10, [(1, "2.30")]),
    ("NORTH", "VND-TORQUE", "NF-TW-20100", 1, 1, 10, 10, [(1, "180.00")]),
    ("NORTH", "VND-MULTI", "NF-DMM-1", 1, 1, 10, 10, [(1, "95.00")]),
    ("OMEGA", "VND-DISC-125", "ΩC-125", 10, 10, 5, 10, [(1, "1.90"), (100, "1.60")]),
    ("OMEGA", "VND-DRILL-8", "ΩD-0800", 5, 5, 5, 10, [(1, "3.20"), (50, "2.80")]),
]
MACHINE_REVIEW_OFF = ("ppe", "electrical", "general", "abrasives")  # auto-approved within policy; cutting is reviewed


def seed(session: Session, demo: DemoContext) -> None:
    for sku, name, category, *_ in ITEMS:
        if session.scalar(select(Item.id).where(Item.sku == sku)) is None:
            session.add(Item(sku=sku, name=name, category=category, unit_of_measure="EA", active=True))
    sku, name, category, asset_type = EQUIPMENT
    if session.scalar(select(Item.id).where(Item.sku == sku)) is None:
        session.add(Item(sku=sku, name=name, category=category, unit_of_measure="EA", active=True,
                         asset_type=asset_type))  # fmt: skip
    session.flush()
    ids = {code: save_supplier(session, data, ACTOR) for code, data in ((s.code, s) for s in SUPPLIERS)}
    _seed_offers(session, ids)
    clock = demo.services.clock
    for sku, _name, _cat, low, high, _ in ITEMS:
        config.set_policy(session, config.PolicyData(sku, demo.site_code, "min_max", low, high, cost_center="CC-100"),
                          ACTOR, clock)  # fmt: skip
    session.merge(SiteProcurementSettings(site_id=demo.site_id, auto_approve_limit=Decimal("500"),
                                          tax_rate=Decimal("0.08"), buyer_name="Riverside Purchasing"))  # fmt: skip
    config.set_review(session, demo.site_code, "consumables", False, ACTOR)  # trusted: auto-approved
    config.set_review(session, demo.site_code, "cutting", True, ACTOR)
    for category in MACHINE_REVIEW_OFF:
        config.set_review(session, demo.site_code, category, False, ACTOR)
    config.add_rule(session, "any order", 1, Decimal("0"), ACTOR, approver_role="approver")
    config.add_rule(session, "large orders", 2, Decimal("5000"), ACTOR, approver_role="admin")
    config.set_budget(session, "CC-100", clock.now().strftime("%Y-%m"), Decimal("20000"), "warn", ACTOR)
    publish_dispenses(session, demo, [(sku, on_hand, high - on_hand) for sku, *_r, high, on_hand in ITEMS])
    demo.notes.append("procurement: demo dispenses push items below min; draft POs appear within seconds")


def _seed_offers(session: Session, supplier_ids: dict[str, int]) -> None:
    for code, sku, part, pack, moq, lead, priority, breaks in OFFERS + MACHINE_OFFERS:
        item_id = session.scalar(select(Item.id).where(Item.sku == sku))
        if item_id is None:
            continue  # a machine item of a domain that is not installed
        row = SupplierItem(supplier_id=supplier_ids[code], item_id=item_id, supplier_part_number=part,
                           description="", pack_qty=pack, unit_of_measure="EA", moq=moq, order_multiple=1,
                           lead_time_days=lead, priority=priority, last_price=Decimal(breaks[0][1]))  # fmt: skip
        session.add(row)
        session.flush()
        set_price_breaks(session, row.id, [(q, Decimal(p)) for q, p in breaks])


def set_machine_policies(session: Session, demo: DemoContext, levels: dict[str, tuple[int, str]]) -> list[str]:
    """Min/max policies for what the demo machines stock, given each SKU's on-hand at the site and category.

    The demo starts every machine item at its minimum, so the first dispense of any of them puts it below and
    a draft order follows within seconds. Returns the SKUs that got a policy."""
    done = []
    for sku, (on_hand, _category) in sorted(levels.items()):
        low = max(on_hand, 1)
        config.set_policy(session, config.PolicyData(sku, demo.site_code, "min_max", low, max(3 * low, low + 6),
                                                     cost_center="CC-100"), ACTOR, demo.services.clock)  # fmt: skip
        done.append(sku)
    return done


def publish_dispenses(session: Session, demo: DemoContext, levels: list[tuple[str, int, int]]) -> None:
    """What vending would publish: one dispense per item and the new on-hand level (sku, on_hand, dispensed)."""
    now = demo.services.clock.now()
    for sku, on_hand, taken in levels:
        publish(session, ItemDispensed(occurred_at=now, site_code=demo.site_code, sku=sku, quantity=max(taken, 1),
                                       worker="demo-worker", machine="DEMO-1", slot="A1"))  # fmt: skip
        publish(session, StockLevelChanged(occurred_at=now, site_code=demo.site_code, sku=sku, on_hand=on_hand,
                                           min_level=0, max_level=0, low=True))  # fmt: skip


def _po_with(session: Session, sku: str) -> PurchaseOrder | None:
    return session.scalar(
        select(PurchaseOrder)
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .join(Item, Item.id == PurchaseOrderLine.item_id)
        .where(Item.sku == sku)
        .order_by(PurchaseOrder.id.desc())
    )


def smoke_flow(demo: DemoContext) -> SmokeResult:
    """Dispense → draft PO (event consumer + debounced worker) → approved → PDF → e-mail to a local SMTP server."""
    factory = demo.services.session_factory
    with unit_of_work(factory) as session:
        publish_dispenses(session, demo, [("PRC-EARPLUG", 4, 146)])
    deadline = time.monotonic() + 30
    po_number, status = "", ""
    while time.monotonic() < deadline:
        with unit_of_work(factory) as session:
            po = _po_with(session, "PRC-EARPLUG")
            if po is not None and po.status != "draft":
                po_number, status = po.po_number, po.status
                break
        time.sleep(0.3)
    if not po_number:
        return SmokeResult(False, "no purchase order for PRC-EARPLUG within 30 s of the dispense")
    with unit_of_work(factory) as session:
        auto = session.scalar(select(PurchaseOrder).where(PurchaseOrder.approved_by == approval.AUTO_APPROVER))
        if status == "pending_approval":
            who = approval.Approver("user:approver", "approver", frozenset({"approver"}))
            status = approval.approve(session, po_number, who, demo.services.clock, "smoke approval")
    if status != "approved":
        return SmokeResult(False, f"{po_number} is {status} after approval")

    with SmtpCapture() as server:
        smtp = transmit.SmtpConfig(server.host, server.port, demo.services.settings.mail_from)
        result = transmit.send(factory, po_number, smtp, "user:buyer", demo.services.clock)
    if result.status != "sent" or not server.messages:
        return SmokeResult(False, f"{po_number} not e-mailed: {result.error or 'nothing arrived'}")
    attachment = next(server.messages[0].iter_attachments())
    content = attachment.get_content()
    if hashlib.sha256(content).hexdigest() != result.sha256 or not content.startswith(b"%PDF"):
        return SmokeResult(False, f"{po_number}: the e-mailed PDF is not the stored one")
    if str(server.messages[0]["Message-ID"]).strip() != result.message_id:  # a long header may come folded
        return SmokeResult(False, f"{po_number}: the e-mail's Message-ID is not the recorded one")
    extra = "; an auto-approved PO exists" if auto is not None else "; no auto-approved PO yet"
    return SmokeResult(True, f"dispense → {po_number} → approved → PDF {len(content)} B → e-mail captured{extra}")
