"""The demo across domains: machine items get purchasing policies, PO e-mail goes to a local capture server,
auto-approved system orders are e-mailed by themselves, and simulated workers take items at the machines.

`web` is the one package that may import every domain, so the glue that makes the headline flow (a badge
dispense at a machine → a draft PO → approval → PDF → e-mail) run by itself in `vendtrack demo` lives here.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.db import unit_of_work
from core.models import Item
from core.runtime import AppServices, DemoContext, LoopWorker
from procurement import approval, transmit
from procurement.demo import set_machine_policies
from procurement.models import PurchaseOrder, Transmission
from procurement.smtp_capture import SmtpCapture
from vending.demo import badge_of
from vending.ledger import site_level
from vending.models import Machine, Slot, SlotStock
from web.demo_logins import demo_password
from web.smoke import DemoClient

log = logging.getLogger(__name__)
MAIL_KEY = "demo.mail"
SHIFT_INTERVAL_S = 6.0  # one simulated dispense this often while the shift runs
SHIFT_KEEP = 1  # simulated workers leave the last item(s) of a slot for the person at the kiosk


def link_machine_items(services: AppServices, demo: DemoContext) -> list[str]:
    """Give every item a demo machine stocks a min/max policy at the site (supplier items come with the seed)."""
    with unit_of_work(services.session_factory) as session:
        rows = session.execute(
            select(Slot.item_id, Item.sku, Item.category)
            .join(Machine, Machine.id == Slot.machine_id)
            .join(Item, Item.id == Slot.item_id)
            .where(Machine.site_id == demo.site_id)
            .distinct()
        ).all()
        levels = {
            sku: (site_level(session, demo.site_id, item_id)[0], category)
            for item_id, sku, category in rows
            if item_id is not None
        }
        return set_machine_policies(session, demo, levels)


def start_mail_capture(folder: Path) -> SmtpCapture:
    """A local SMTP server for the demo's purchase-order e-mail; each message is also saved as a .eml file."""
    capture = SmtpCapture()
    capture.__enter__()
    folder.mkdir(parents=True, exist_ok=True)
    return capture


def save_new_mail(capture: SmtpCapture, folder: Path, saved: list[int]) -> None:
    """Write messages not yet on disk as `<n>-<PO number>.eml` (a mail client opens them, PDF attached)."""
    messages: list[EmailMessage] = list(capture.messages)
    for n in range(saved[0], len(messages)):
        subject = str(messages[n].get("Subject", ""))
        found = re.search(r"PO-\d+", subject)
        (folder / f"{n + 1:03d}-{found.group(0) if found else 'mail'}.eml").write_bytes(messages[n].as_bytes())
    saved[0] = len(messages)


def mail_worker(capture: SmtpCapture, folder: Path) -> LoopWorker:
    saved = [0]
    return LoopWorker("demo-mail-files", lambda: save_new_mail(capture, folder, saved), interval=1.0)


def send_auto_approved(services: AppServices) -> list[str]:
    """E-mail system orders that were approved automatically and never sent: within policy, nobody waits."""
    with services.session_factory() as session:
        numbers = list(
            session.scalars(
                select(PurchaseOrder.po_number)
                .outerjoin(Transmission, Transmission.po_id == PurchaseOrder.id)
                .where(
                    PurchaseOrder.status == "approved",
                    PurchaseOrder.approved_by == approval.AUTO_APPROVER,
                    Transmission.id.is_(None),
                )
            )
        )
    smtp = transmit.SmtpConfig.from_settings(services.settings)
    policy = transmit.RetryPolicy.from_settings(services.settings)
    for number in numbers:
        transmit.send(services.session_factory, number, smtp, "system:demo-auto-send", services.clock, policy)
    return numbers


def auto_send_worker(services: AppServices) -> LoopWorker:
    return LoopWorker("demo-auto-send", lambda: send_auto_approved(services), interval=2.0)


class DemoShift:
    """Simulated workers: every few seconds one of W001-W019 badges in at a machine's kiosk (over HTTP, as a
    kiosk browser would) and takes one item from a slot that still has more than `SHIFT_KEEP`."""

    def __init__(self, demo: DemoContext, interval: float = SHIFT_INTERVAL_S, seed: int = 7) -> None:
        self.demo, self.rng = demo, random.Random(seed)
        self.loop = LoopWorker("demo-shift", self.step, interval=interval)
        self.name = self.loop.name
        self.dispensed = 0
        self._client: DemoClient | None = None

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def _slots(self) -> list[tuple[str, str]]:
        with self.demo.services.session_factory() as session:
            rows = session.execute(
                select(Machine.code, Slot.code)
                .join(Slot, Slot.machine_id == Machine.id)
                .join(SlotStock, SlotStock.slot_id == Slot.id)
                .where(Machine.site_id == self.demo.site_id, SlotStock.on_hand > SHIFT_KEEP, Slot.state == "ok")
                .order_by(Machine.code, Slot.code)
            ).all()
        return [(m, s) for m, s in rows]

    def step(self) -> None:
        slots = self._slots()
        if not slots:
            return
        machine, slot = self.rng.choice(slots)
        if self._client is None:
            self._client = DemoClient(self.demo.base_url)
            self._client.login("restocker", demo_password("restocker"))
        outcome = kiosk_dispense(self._client, machine, badge_of(self.rng.randrange(1, 20)), slot)
        if outcome.get("status") == "completed":
            self.dispensed += 1


def kiosk_dispense(client: DemoClient, machine: str, badge: str, slot: str, wait_s: float = 20.0) -> dict[str, Any]:
    """Badge in at a machine's kiosk, take one item from `slot`, wait for the sensed outcome, badge out."""
    status, page = client.request("GET", f"/kiosk/{machine}")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    if status != 200 or token is None:
        raise RuntimeError(f"kiosk page of {machine} answered HTTP {status}")
    headers = {"X-CSRF-Token": token.group(1)}
    api = f"/api/v1/vending/kiosk/{machine}"
    status, text = client.request("POST", api + "/badge", json_body={"badge": badge}, headers=headers)
    if status != 200:
        raise RuntimeError(f"badge {badge} at {machine}: HTTP {status} {text[:200]}")
    try:
        body = {"slot": slot, "quantity": 1, "charge_codes": {"cost_center": "CC-100"}}  # the demo requires one
        status, text = client.request("POST", api + "/dispense", json_body=body, headers=headers)
        result: dict[str, Any] = json.loads(text).get("dispense", {}) if status == 200 else {"status": "refused"}
        deadline = time.monotonic() + wait_s
        while result.get("status") not in ("completed", "failed", "refused") and time.monotonic() < deadline:
            time.sleep(0.1)
            _status, text = client.request("GET", f"{api}/dispense/{result['id']}", headers=headers)
            result = json.loads(text)["dispense"]
        return result
    finally:
        client.request("POST", api + "/logout", json_body={}, headers=headers)
