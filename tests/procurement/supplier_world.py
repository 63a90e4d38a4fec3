"""A sent-ready world for the supplier-loop tests: users, the site's document settings, ACME's cXML profile,
and an approved two-line PO."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from core.models import Site
from core.roles import Role
from core.users import create_user
from procurement import approval, orders, workflow
from procurement.supplier_profiles import ProfileForm, save_profile, save_site_documents
from procurement.suppliers import supplier_by_code
from tests.procurement.conftest import World, add_offer, seed_world

SUPPLIER_ID = ("NetworkID", "AN01-ACME")
BUYER_ID = ("DUNS", "123456789")
SECRET = "coyote-42"
WANTED = date(2026, 3, 20)


@dataclass
class Loop:
    world: World
    po_number: str
    secret_key: str


def make_loop(app: Flask) -> Loop:
    factory = app.extensions["vendtrack"].session_factory
    secret_key = app.extensions["vendtrack"].settings.secret_key
    world = seed_world(factory, ManualClock(SystemClock().now()))
    with unit_of_work(factory) as s:
        create_user(s, "bob", "bob-password", [Role.PROCUREMENT])
        create_user(s, "ann", "nna-password", [Role.APPROVER])
        site = s.scalar(select(Site).where(Site.code == "PLANT1"))
        assert site is not None
        site.country = "US"
        save_site_documents(s, "PLANT1", {"buyer_email": "bob.buyer@plant.example", "buyer_phone": "+1 555 0100",
                                          "street": "Dock 2\n100 River Way", "city": "Springfield", "state": "IL",
                                          "postal_code": "62701", "invoice_price_tolerance_pct": "2",
                                          "invoice_qty_tolerance_pct": "0"}, "user:bob", world.clock)  # fmt: skip
        save_profile(s, "ACME", ProfileForm(BUYER_ID[0], BUYER_ID[1], SUPPLIER_ID[0], SUPPLIER_ID[1], BUYER_ID[0],
                                            BUYER_ID[1], SECRET), secret_key, "user:bob", world.clock)  # fmt: skip
        add_offer(s, "ACME", "DRILL", "AC-DR", [(1, "4.00")], last_price="4.00")
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, "user:bob", world.clock)
        orders.add_line(s, po, "GLOVE", 36, Decimal("9.20"), "user:bob", world.clock)
        orders.add_line(s, po, "DRILL", 20, Decimal("4.00"), "user:bob", world.clock)
        po.requested_delivery_date = WANTED
        workflow.submit(s, po.po_number, "user:bob", world.clock)
        if po.status == orders.PENDING:
            approval.approve(s, po.po_number, approval.Approver("user:ann", "ann", frozenset({"approver"})),
                             world.clock)  # fmt: skip
        assert po.status == orders.APPROVED, po.status
        number = po.po_number
    return Loop(world, number, secret_key)
