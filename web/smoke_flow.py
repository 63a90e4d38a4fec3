"""The headline flow across domains for `vendtrack demo --smoke`: a badge dispense at a machine → ItemDispensed →
procurement's position → a draft PO line naming that item → approval → PDF → e-mail captured.

Every step goes the way a person or device would: the kiosk API with a badge, the PO page's own buttons (the
approver's Approve, the buyer's "E-mail to supplier") with their CSRF tokens, and the demo's SMTP capture server.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

from sqlalchemy import select

from core import notes
from core.models import Item
from core.outbox import OutboxEvent
from core.runtime import DemoContext, SmokeResult
from procurement.models import PurchaseOrder, PurchaseOrderLine
from procurement.orders import OPEN_STATUSES
from procurement.smtp_capture import SmtpCapture
from vending.demo import badge_of
from vending.models import Machine, Slot, SlotStock
from web.demo_links import MAIL_KEY, kiosk_dispense
from web.demo_logins import demo_password
from web.smoke import DemoClient

PO_DEADLINE_S = 60.0


def _unordered_slot(demo: DemoContext) -> tuple[str, str, str] | None:
    """(machine, slot, sku) of a stocked slot whose item is on no open order, so the flow's line is its own."""
    with demo.services.session_factory() as session:
        ordered = set(
            session.scalars(
                select(PurchaseOrderLine.item_id)
                .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
                .where(PurchaseOrder.status.in_(OPEN_STATUSES))
            )
        )
        rows = session.execute(
            select(Machine.code, Slot.code, Item.sku, Item.id)
            .join(Slot, Slot.machine_id == Machine.id)
            .join(Item, Item.id == Slot.item_id)
            .join(SlotStock, SlotStock.slot_id == Slot.id)
            .where(Machine.site_id == demo.site_id, SlotStock.on_hand > 0, Slot.state == "ok")
            .order_by(Machine.code, Slot.code)
        ).all()
    return next(((m, s, sku) for m, s, sku, item_id in rows if item_id not in ordered), None)


def _dispensed_event(demo: DemoContext, machine: str, slot: str, sku: str, since: datetime) -> bool:
    with demo.services.session_factory() as session:
        payloads = session.scalars(
            select(OutboxEvent.payload).where(
                OutboxEvent.event_type == "vending.item_dispensed", OutboxEvent.created_at >= since
            )
        ).all()
    wanted = {"machine": machine, "slot": slot, "sku": sku}
    return any(all(json.loads(p)["data"].get(k) == v for k, v in wanted.items()) for p in payloads)


def _po_for(demo: DemoContext, sku: str, since: datetime) -> tuple[str, str, str] | None:
    """(po_number, status, line reason) of the order created since `since` with a line for `sku`."""
    with demo.services.session_factory() as session:
        row = session.execute(
            select(PurchaseOrder.po_number, PurchaseOrder.status, PurchaseOrderLine.reason)
            .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
            .join(Item, Item.id == PurchaseOrderLine.item_id)
            .where(Item.sku == sku, PurchaseOrder.created_at >= since)
            .order_by(PurchaseOrder.id.desc())
        ).first()
    return (row[0], row[1], notes.english(row[2])) if row else None  # the reason is a stored note


def _press(client: DemoClient, po_number: str, action: str, data: dict[str, str] | None = None) -> bool:
    """Press a button of the PO page the way the browser would: only if the page offers it. True when the page
    came back (the redirect followed) without a refusal."""
    path = f"/procurement/po/{po_number}"
    status, page = client.request("GET", path)
    if f'data-action="{action}"' not in page:
        return False
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    slug = action.replace("_", "-")
    status, page = client.request("POST", f"{path}/{slug}", data={"csrf_token": token.group(1) if token else "",
                                                                  **(data or {})})  # fmt: skip
    return status == 200 and 'id="form-error"' not in page


def cross_domain_smoke(demo: DemoContext) -> SmokeResult:
    capture: SmtpCapture = demo.state[MAIL_KEY]
    chosen = _unordered_slot(demo)
    if chosen is None:
        return SmokeResult(False, "every stocked machine item is already on an open order: nothing new to order")
    machine, slot, sku = chosen
    since = demo.services.clock.now()
    kiosk = DemoClient(demo.base_url)
    kiosk.login("restocker", demo_password("restocker"))
    result = kiosk_dispense(kiosk, machine, badge_of(7), slot)
    if result.get("status") != "completed":
        return SmokeResult(False, f"dispense of {sku} at {machine}/{slot} ended {result.get('status')}")
    if not _dispensed_event(demo, machine, slot, sku, since):
        return SmokeResult(False, f"no ItemDispensed event for {sku} at {machine}/{slot}")
    deadline, found = time.monotonic() + PO_DEADLINE_S, None
    while time.monotonic() < deadline:
        found = _po_for(demo, sku, since)
        if found is not None and found[1] != "draft":
            break
        time.sleep(0.3)
    if found is None:
        return SmokeResult(False, f"no purchase order line for {sku} within {PO_DEADLINE_S:.0f} s of the dispense")
    po_number, status, reason = found
    approver = DemoClient(demo.base_url)
    approver.login("approver", demo_password("approver"))
    how = "auto-approved"
    if status == "pending_approval":
        if not _press(approver, po_number, "approve", {"comment": "smoke"}):
            return SmokeResult(False, f"{po_number} ({sku}) is waiting but the approver has no working Approve")
        how = "approved by the approver"
    pdf_status, pdf_body = approver.request("GET", f"/procurement/po/{po_number}/pdf")
    if pdf_status != 200 or not pdf_body.startswith("%PDF"):
        return SmokeResult(False, f"{po_number} PDF answered HTTP {pdf_status}")
    buyer = DemoClient(demo.base_url)
    buyer.login("buyer", demo_password("buyer"))
    before = len(capture.messages)
    if not _press(buyer, po_number, "send"):
        return SmokeResult(False, f"{po_number}: the buyer is not offered a working 'E-mail to supplier'")
    mails = [m for m in capture.messages[before:] if po_number in str(m.get("Subject", ""))]
    if not mails or not any(part.get_content_type() == "application/pdf" for part in mails[0].iter_attachments()):
        return SmokeResult(False, f"{po_number}: no e-mail with the PDF reached the capture server")
    return SmokeResult(True, f"badge dispense of {sku} at {machine}/{slot} → ItemDispensed → {po_number} line "
                             f"({reason.split(';')[0]}) → {how} → PDF → e-mail captured")  # fmt: skip
