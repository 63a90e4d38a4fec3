"""Per-site procurement settings: the page and its service, what a change affects, and the send retry variables."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import procurement.plugin  # declares the VENDTRACK_PROCUREMENT_SEND_* variables, as web does at start
from core import audit, notes
from core.clock import ManualClock, SystemClock
from core.db import unit_of_work
from core.models import Site
from core.roles import Role, TokenScope
from core.settings import SettingsError, check_environment, load_settings
from core.users import create_token, create_user
from procurement import approval, config, orders, transmit, workflow
from procurement.documents import build_context
from procurement.history import sentence
from procurement.models import PurchaseOrder, SiteProcurementSettings, SupplierItem, Transmission
from procurement.queries import current_warnings
from procurement.smtp_capture import free_port
from procurement.suppliers import supplier_by_code
from tests.conftest import csrf_from, login
from tests.procurement.conftest import World, seed_world
from tests.support import read_in

PAGE = "/procurement/sites/PLANT1/settings"
VALID = {
    "auto_approve_limit": "500.00",
    "price_tolerance_pct": "10",
    "reapproval_rise_pct": "10",
    "over_receipt_pct": "5",
    "tax_rate_pct": "8",
    "buyer_name": "Plant One Purchasing",
}
ANN = approval.Approver("user:ann", "ann", frozenset({"approver"}))


def _setup(app: Flask) -> World:
    world = seed_world(app.extensions["vendtrack"].session_factory, ManualClock(SystemClock().now()))
    with unit_of_work(world.factory) as s:
        create_user(s, "bob", "bob-password", [Role.PROCUREMENT])
        create_user(s, "ann", "nna-password", [Role.APPROVER])
        create_user(s, "sam", "mas-password", [Role.STAFF])
        create_user(s, "ada", "ada-password", [Role.ADMIN])
    return world


def _save(client: FlaskClient, **changes: str) -> tuple[int, str]:
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    response = client.post(PAGE, data={"csrf_token": token, **VALID, **changes})
    return response.status_code, response.get_data(as_text=True)


def _stored(world: World) -> SiteProcurementSettings:
    with world.session() as s:
        row = s.get(SiteProcurementSettings, world.site_id)
        assert row is not None
        s.expunge(row)
        return row


def _po(world: World, lines: list[tuple[str, int, str]], origin: str = "manual", submit: bool = True) -> str:
    requester = "system:replenish" if origin == "system" else "user:bob"
    with unit_of_work(world.factory) as s:
        po = orders.new_po(s, supplier_by_code(s, "ACME"), world.site_id, requester, world.clock, origin=origin)
        for sku, qty, price in lines:
            line = orders.add_line(s, po, sku, qty, Decimal(price), requester, world.clock)
            line.supplier_item_id = s.scalar(  # as replenishment does: the offer, whose last price is compared
                select(SupplierItem.id).where(
                    SupplierItem.item_id == line.item_id, SupplierItem.supplier_id == po.supplier_id
                )
            )
        if submit:
            workflow.submit(s, po.po_number, requester, world.clock)
        return po.po_number


def _state(world: World, number: str) -> tuple[str, Decimal | None, Decimal, str | None]:
    with world.session() as s:
        po = orders.get_po(s, number)
        return po.status, po.approved_total, po.tax_rate, po.approved_by


# ---- validation: each error names its field and the fix, and the form keeps what was typed --------------


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("auto_approve_limit", "-1", "auto-approval limit -1 is out of range: enter a number from 0 to"),
        ("auto_approve_limit", "12.345", "auto-approval limit 12.345 has more than 2 decimals"),
        ("auto_approve_limit", "1,000", "auto-approval limit &#39;1,000&#39; is not a number"),
        ("auto_approve_limit", "NaN", "auto-approval limit &#39;NaN&#39; is not a number"),
        ("auto_approve_limit", "", "auto-approval limit is required"),
        ("price_tolerance_pct", "101", "price tolerance 101 % is out of range: enter a number from 0 to 100 %"),
        ("reapproval_rise_pct", "1.005", "re-approval rise 1.005 % has more than 2 decimals"),
        ("over_receipt_pct", "ten", "over-receipt tolerance &#39;ten&#39; is not a number"),
        ("tax_rate_pct", "150", "tax rate 150 % is out of range: enter a number from 0 to 100 %"),
        ("tax_rate_pct", "7.255", "tax rate 7.255 % has more than 2 decimals"),
        ("buyer_name", "   ", "buyer name is required"),
        ("buyer_name", "B" * 201, "buyer name is 201 characters long: shorten it to 200 at most"),
    ],
)
def test_each_invalid_field_is_named_and_the_form_keeps_what_was_typed(
    app: Flask, client: FlaskClient, field: str, typed: str, message: str
) -> None:
    world = _setup(app)
    login(client, "bob", "bob-password")
    status, html = _save(client, **{field: typed, "buyer_name": "Typed Buyer" if field != "buyer_name" else typed})
    assert status == 422
    assert message in html
    assert f'aria-describedby="{field}-error"' in html and html.count('class="field-error"') == 1
    kept = re.search(rf'name="{field}" id="{field}" value="([^"]*)"', html)
    assert kept is not None and kept.group(1) == typed.replace("'", "&#39;")
    if field != "buyer_name":
        assert 'value="Typed Buyer"' in html  # the other fields keep what was typed too
    assert _stored(world).buyer_name == "vendtrack Purchasing"  # nothing saved
    with world.session() as s:
        assert audit.history(s, "site_procurement_settings", "PLANT1") == []


def test_the_service_reports_every_bad_field_in_form_order() -> None:
    typed = config.SiteSettingsInput("x", "5", "200", "5", "-2", "")
    with pytest.raises(config.SiteSettingsInvalid) as caught:
        config.parse_site_settings(typed)
    assert list(caught.value.errors) == ["auto_approve_limit", "reapproval_rise_pct", "tax_rate_pct", "buyer_name"]
    assert caught.value.field == "auto_approve_limit" and caught.value.status == 422
    good = config.parse_site_settings(config.SiteSettingsInput("1500", "2.5 %", "0", "100", "7.25", "  Buyer  "))
    assert good == config.SiteSettingsData(
        Decimal("1500"), Decimal("2.5"), Decimal("0"), Decimal("100"), Decimal("7.25"), "Buyer"
    )


# ---- a change is audited --------------------------------------------------------------------------


def test_a_change_is_audited_with_before_and_after(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    login(client, "bob", "bob-password")
    status, _html = _save(client, auto_approve_limit="750", tax_rate_pct="7.25", buyer_name="Plant One Purchasing")
    assert status == 302
    row = _stored(world)
    assert (row.auto_approve_limit, row.tax_rate, row.buyer_name) == (Decimal("750"), Decimal("0.0725"),
                                                                       "Plant One Purchasing")  # fmt: skip
    page = client.get(PAGE).get_data(as_text=True)
    assert "auto-approval limit, tax rate, buyer name changed" in page and 'value="7.25"' in page
    with world.session() as s:
        (entry,) = audit.history(s, "site_procurement_settings", "PLANT1")
    assert entry.actor.startswith("user:") and entry.action == "site_settings.save"
    assert entry.before == {"auto_approve_limit": "500.00", "tax_rate_pct": "8", "buyer_name": "vendtrack Purchasing"}
    assert entry.after == {"auto_approve_limit": "750.00", "tax_rate_pct": "7.25", "buyer_name": "Plant One Purchasing"}
    status, _html = _save(client, auto_approve_limit="750.0", tax_rate_pct="7.25")  # the same values again
    assert status == 302 and "nothing changed" in client.get(PAGE).get_data(as_text=True)
    with world.session() as s:
        assert len(audit.history(s, "site_procurement_settings", "PLANT1")) == 1


def test_a_site_without_settings_shows_the_defaults_and_reading_writes_nothing(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    with unit_of_work(world.factory) as s:
        s.add(Site(code="PLANT2", name="Plant Two"))
    login(client, "ann", "nna-password")
    listing = client.get("/procurement/sites").get_data(as_text=True)
    assert "PLANT2" in listing and "(defaults)" in listing
    page = client.get("/procurement/sites/PLANT2/settings").get_data(as_text=True)
    assert "the defaults below apply" in page and 'value="0.00"' in page and 'value="vendtrack Purchasing"' in page
    with world.session() as s:
        assert s.scalar(select(SiteProcurementSettings).join(Site).where(Site.code == "PLANT2")) is None
    missing = client.get("/procurement/sites/NOPE/settings")
    assert missing.status_code == 404 and "unknown site" in missing.get_data(as_text=True)


# ---- what a change affects ------------------------------------------------------------------------


def test_a_raised_limit_auto_approves_new_orders_and_leaves_approved_ones_alone(
    app: Flask, client: FlaskClient
) -> None:
    world = _setup(app)
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    small = _po(world, [("GLOVE", 36, "10.00")], origin="system")  # 388.80 < 500
    big = [("GLOVE", 40, "10.00"), ("WIPE", 40, "4.00")]  # 560.00 + 8 % = 604.80
    before = _po(world, big, origin="system")
    assert _state(world, small) == ("approved", Decimal("388.80"), Decimal("0.08"), approval.AUTO_APPROVER)
    with world.session() as s:
        po = orders.get_po(s, before)
        assert "auto-approval not applied: total USD 604.80 is not under the auto-approval limit USD 500.00" in (
            current_warnings(po.status, po.warnings)
        )
    assert _state(world, before)[0] == "pending_approval"

    login(client, "bob", "bob-password")
    assert _save(client, auto_approve_limit="1000")[0] == 302
    after = _po(world, big, origin="system")
    assert _state(world, after) == ("approved", Decimal("604.80"), Decimal("0.08"), approval.AUTO_APPROVER)
    assert _state(world, before)[0] == "pending_approval"  # submitted earlier: not looked at again

    assert _save(client, auto_approve_limit="0")[0] == 302  # switching auto-approval off
    assert _state(world, small) == ("approved", Decimal("388.80"), Decimal("0.08"), approval.AUTO_APPROVER)
    assert _state(world, after) == ("approved", Decimal("604.80"), Decimal("0.08"), approval.AUTO_APPROVER)
    assert _state(world, _po(world, [("GLOVE", 6, "10.00")], origin="system"))[0] == "pending_approval"


def test_why_an_order_was_not_auto_approved_is_kept_as_a_message_id_and_shown_in_the_readers_language(
    app: Flask, client: FlaskClient
) -> None:
    world = _setup(app)
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    big = [("GLOVE", 40, "10.00"), ("WIPE", 40, "4.00")]  # 604.80 with tax: over the 500.00 limit
    with app.test_request_context("/", headers={"Accept-Language": "de"}):  # submitted by a German reader
        number = _po(world, big, origin="system")
    with world.session() as s:
        stored = orders.get_po(s, number).warnings
    assert "Genehmigung" not in stored and "auto-approval not applied: %(reason)s" in stored  # the id, not words
    login(client, "ann", "nna-password")
    client.set_cookie("vendtrack_lang", "de")
    page = html.unescape(client.get(f"/procurement/po/{number}").get_data(as_text=True))
    assert (
        "keine automatische Genehmigung: die Summe 604,80\xa0$ liegt nicht unter der Grenze für automatische "
        "Genehmigung von 500,00\xa0$" in page
    )
    queue = html.unescape(client.get("/procurement/").get_data(as_text=True))
    assert "keine automatische Genehmigung: die Summe 604,80\xa0$" in queue
    client.set_cookie("vendtrack_lang", "es")
    page = html.unescape(client.get(f"/procurement/po/{number}").get_data(as_text=True))
    assert "aprobación automática no aplicada: el total 604,80\xa0US$ no es inferior al límite" in page
    client.set_cookie("vendtrack_lang", "en")
    page = html.unescape(client.get(f"/procurement/po/{number}").get_data(as_text=True))
    assert "auto-approval not applied: total USD 604.80 is not under the auto-approval limit USD 500.00" in page


def test_a_tax_rate_change_reaches_new_orders_and_drafts_only(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    approved = _po(world, [("GLOVE", 36, "9.20")])  # 331.20 + 8 % = 357.70
    with unit_of_work(world.factory) as s:
        approval.approve(s, approved, ANN, world.clock)
    pending = _po(world, [("GLOVE", 36, "9.20")])
    draft = _po(world, [("GLOVE", 36, "9.20")], submit=False)

    login(client, "bob", "bob-password")
    assert _save(client, tax_rate_pct="10")[0] == 302
    new = _po(world, [("GLOVE", 36, "9.20")], submit=False)
    with unit_of_work(world.factory) as s:
        workflow.submit(s, draft, "user:bob", world.clock)
    with world.session() as s:
        docs = {number: build_context(s, number) for number in (approved, pending, draft, new)}
        submitted = audit.history(s, "purchase_order", draft)[-1]
    assert (docs[approved].tax_rate, docs[approved].total) == (Decimal("0.08"), Decimal("357.70"))
    assert _state(world, approved) == ("approved", Decimal("357.70"), Decimal("0.08"), "user:ann")
    assert (docs[pending].tax_rate, docs[pending].total) == (Decimal("0.08"), Decimal("357.70"))
    assert (docs[new].tax_rate, docs[new].total) == (Decimal("0.1"), Decimal("364.32"))
    assert (docs[draft].tax_rate, docs[draft].total) == (Decimal("0.1"), Decimal("364.32"))
    assert notes.english(submitted.comment) == "tax rate 8.00 % → 10.00 % (the site's rate when submitted)"
    with read_in("de"):  # the history's comment, written by the code, reads in the reader's language
        said = sentence(submitted.actor, submitted.action, submitted.before, submitted.after, submitted.comment)
    assert said.endswith(": Steuersatz 8,00 % → 10,00 % (der Satz des Standorts beim Einreichen)"), said
    assert "keep their rate, totals and documents" in client.get(PAGE).get_data(as_text=True)


def test_an_order_keeps_the_buyer_name_it_was_submitted_under(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    login(client, "bob", "bob-password")
    assert _save(client, buyer_name="Plant One Purchasing")[0] == 302
    earlier = _po(world, [("GLOVE", 36, "9.20")])
    draft = _po(world, [("GLOVE", 36, "9.20")], submit=False)
    assert _save(client, buyer_name="Riverside Central Buying")[0] == 302
    with unit_of_work(world.factory) as s:
        workflow.submit(s, draft, "user:bob", world.clock)
    with world.session() as s:
        assert build_context(s, earlier).buyer.name == "Plant One Purchasing"  # re-rendered later: same name
        assert build_context(s, draft).buyer.name == "Riverside Central Buying"


# ---- who may read and change -----------------------------------------------------------------------


def test_procurement_and_admin_change_approver_reads_others_are_refused(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    login(client, "ann", "nna-password")
    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "disabled" in html and "Save settings" not in html
    assert client.get("/procurement/sites").status_code == 200
    token = csrf_from(html)
    assert client.post(PAGE, data={"csrf_token": token, **VALID, "tax_rate_pct": "20"}).status_code == 403
    staff = app.test_client()
    login(staff, "sam", "mas-password")
    assert staff.get(PAGE).status_code == 403 and staff.get("/procurement/sites").status_code == 403
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    with unit_of_work(world.factory) as s:
        tokens = {scope: create_token(s, f"t-{scope.value}", [scope], site_id=world.site_id)[0] for scope in TokenScope}
    for plain in tokens.values():
        assert app.test_client().get(PAGE, headers={"Authorization": f"Bearer {plain}"}).status_code in (401, 403)
    admin = app.test_client()
    login(admin, "ada", "ada-password")
    assert "Save settings" in admin.get(PAGE).get_data(as_text=True)
    assert _save(admin, tax_rate_pct="20")[0] == 302
    assert _stored(world).tax_rate == Decimal("0.2")


def test_a_post_without_the_csrf_field_is_refused(app: Flask, client: FlaskClient) -> None:
    world = _setup(app)
    login(client, "bob", "bob-password")
    response = client.post(PAGE, data={**VALID, "tax_rate_pct": "20"})
    assert response.status_code == 400
    assert _stored(world).tax_rate == Decimal("0.08")


# ---- the send retry policy from the environment ----------------------------------------------------

SEND_VARIABLES = {
    "VENDTRACK_PROCUREMENT_SEND_MAX_ATTEMPTS": "3",
    "VENDTRACK_PROCUREMENT_SEND_BACKOFF_S": "30",
    "VENDTRACK_PROCUREMENT_SEND_CLAIM_TIMEOUT_S": "90",
}


def test_the_retry_policy_variables_are_read(tmp_path: Path) -> None:
    assert procurement.plugin.CONSUMER  # imported for its declarations
    settings = load_settings(SEND_VARIABLES, instance_path=tmp_path)
    policy = transmit.RetryPolicy.from_settings(settings)
    assert (policy.max_attempts, policy.first_delay.total_seconds(), policy.claim_timeout.total_seconds()) == (
        3, 30.0, 90.0
    )  # fmt: skip
    assert transmit.RetryPolicy.from_settings(load_settings({}, instance_path=tmp_path)) == transmit.DEFAULT_POLICY


@pytest.mark.parametrize(
    ("variable", "raw", "fix"),
    [
        ("VENDTRACK_PROCUREMENT_SEND_MAX_ATTEMPTS", "0", "whole number from 1 to 100"),
        ("VENDTRACK_PROCUREMENT_SEND_MAX_ATTEMPTS", "2.5", "whole number from 1 to 100"),
        ("VENDTRACK_PROCUREMENT_SEND_BACKOFF_S", "soon", "seconds above 0 to 3600"),
        ("VENDTRACK_PROCUREMENT_SEND_BACKOFF_S", "0", "seconds above 0 to 3600"),
        ("VENDTRACK_PROCUREMENT_SEND_BACKOFF_S", "inf", "seconds above 0 to 3600"),
        ("VENDTRACK_PROCUREMENT_SEND_CLAIM_TIMEOUT_S", "20", "seconds from 60 to 86400"),
    ],
)
def test_a_malformed_retry_variable_stops_the_start_naming_it(
    tmp_path: Path, variable: str, raw: str, fix: str
) -> None:
    environ = {**SEND_VARIABLES, variable: raw}
    with pytest.raises(SettingsError, match=f"^{variable}='{re.escape(raw)}' is not valid.*{fix}"):
        check_environment(environ)
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ, instance_path=tmp_path)


def test_the_configured_policy_drives_sends_and_retries(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.app import create_app

    monkeypatch.setenv("VENDTRACK_PROCUREMENT_SEND_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("VENDTRACK_PROCUREMENT_SEND_BACKOFF_S", "5")
    monkeypatch.setenv("VENDTRACK_SMTP_PORT", str(free_port()))  # nothing listens: every attempt fails
    clock = ManualClock(SystemClock().now())
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "CLOCK": clock})
    world = _setup(app)
    world.clock = clock
    number = _po(world, [("GLOVE", 36, "9.20")])
    with unit_of_work(world.factory) as s:
        approval.approve(s, number, ANN, clock)
    client = app.test_client()
    login(client, "bob", "bob-password")
    url = f"/procurement/po/{number}"
    client.post(url + "/send", data={"csrf_token": csrf_from(client.get(url).get_data(as_text=True))})
    with world.session() as s:
        t = s.scalar(select(Transmission).join(PurchaseOrder).where(PurchaseOrder.po_number == number))
        assert t is not None and (t.status, t.attempts) == ("queued", 1)
        assert t.next_attempt_at is not None and (t.next_attempt_at - clock.now()).total_seconds() == 5
    assert "1 of 2" in client.get(url).get_data(as_text=True)  # the page shows the configured limit
    clock.advance(seconds=5)
    procurement.plugin.transmit_step(app.extensions["vendtrack"])
    with world.session() as s:
        t = s.scalar(select(Transmission).join(PurchaseOrder).where(PurchaseOrder.po_number == number))
        assert t is not None and (t.status, t.attempts) == ("failed", 2)
