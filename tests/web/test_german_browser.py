"""The main flows in German (and a look at Spanish) in headless Chromium against the running demo: the language
menu, a user's saved language, status labels, dates and numbers per locale, the approver's approve flow, the
nurse's locate page, the kiosk's sign-in with the kiosk script's own strings, and text the code stored (PO line
reasons, an alert's message) read in German. Screenshots: test-screenshots/de-*."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.notes import N_, Note
from core.runtime import DemoContext
from tests.web.people_pages import resolve
from tracking import recording
from tracking.engine import GatewayChange
from tracking.models import Gateway
from vending.demo import badge_of

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _to_german(page: Any) -> None:
    page.select_option("#language", "de")  # the menu submits itself
    page.wait_for_function("() => document.documentElement.lang === 'de'")


def _to_english(page: Any) -> None:
    """Back to English (the choice is saved with the user), for the other tests."""
    page.select_option("#language", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")


def test_approver_works_in_german_and_keeps_the_choice(
    login_as: Callable[..., Any], browser: Any, people_demo: DemoContext
) -> None:
    page = login_as("approver")
    page.goto(people_demo.base_url + "/procurement/")
    _to_german(page)
    assert page.inner_text("h1") == "Bestellungen"
    assert "Abmelden" in page.inner_text("header")
    _shot(page, "de-po-queue")
    page.goto(resolve(page, people_demo.base_url, "po"))
    if page.locator("#approve").count() == 0:
        pytest.skip("the demo has no order waiting for approval yet")
    assert page.inner_text("#po-status") == "Wartet auf Genehmigung"
    assert page.inner_text("#approve") == "Genehmigen" and page.inner_text("#reject") == "Ablehnen"
    assert re.search(r"\d+,\d\d", page.inner_text("#po-total")), page.inner_text("#po-total")  # decimal comma
    history = page.inner_text("#history")
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", history), history  # German date order
    _shot(page, "de-po-approver")
    page.fill("#approve-comment", "passt")
    page.click("#approve")
    assert "Stufe 1: Genehmigt von approver" in page.inner_text("#approvals")
    # an order over the second level's limit (the demo's ventilator request) waits for level 2 after level 1
    assert page.inner_text("#po-status") in ("Genehmigt", "Wartet auf Genehmigung")
    _shot(page, "de-po-approved")

    again = browser.new_context()  # another browser, no cookie: the user's saved language applies
    fresh = again.new_page()
    fresh.goto(people_demo.base_url + "/login")
    assert fresh.get_attribute("html", "lang") == "en"
    from web.demo_logins import demo_password

    fresh.fill("input[name=username]", "approver")
    fresh.fill("input[name=password]", demo_password("approver"))
    fresh.click("button[type=submit]")
    fresh.wait_for_load_state()
    assert fresh.get_attribute("html", "lang") == "de"
    fresh.select_option("#language", "en")  # and back, for the other tests
    fresh.wait_for_function("() => document.documentElement.lang === 'en'")
    again.close()


GERMAN_PO_STATES = ["Entwurf", "Wartet auf Genehmigung", "Genehmigt", "Abgelehnt", "Gesendet", "Bestellt",
                    "Teilweise erhalten", "Erhalten", "Abgeschlossen", "Storniert"]  # fmt: skip


def test_buyer_sees_the_po_queue_text_built_in_python_in_german(
    login_as: Callable[..., Any], people_demo: DemoContext
) -> None:
    page = login_as("buyer")
    page.context.add_cookies([{"name": "vendtrack_lang", "value": "de", "url": people_demo.base_url}])
    page.goto(people_demo.base_url + "/procurement/?status=")
    options = page.eval_on_selector_all("#queue-filter select[name=status] option", "els => els.map(e => e.innerText)")
    assert options == ["jeder Status", *GERMAN_PO_STATES], options
    chips = page.eval_on_selector_all("#status-counts .badge", "els => els.map(e => e.innerText.trim())")
    assert chips, "the demo has orders in some status"
    for chip in chips:  # "Wartet auf Genehmigung: 1"
        label, _sep, count = chip.rpartition(": ")
        assert label in GERMAN_PO_STATES and count.isdigit(), chips
    assert re.fullmatch(r"\d+ Bestellung(en)? · .*", page.inner_text("#queue-totals")), page.inner_text("#queue-totals")
    visor = page.locator("#exceptions tr[data-sku='PRC-VISOR']")  # the demo's item that no supplier sells
    assert visor.locator(".badge").inner_text() == "Kein Lieferant"
    assert "unter 4, und kein Lieferant führt den Artikel" in visor.inner_text()
    assert visor.locator("a.fix").inner_text().startswith("Einen Lieferantenartikel anlegen")
    titles = set(page.eval_on_selector_all("#exceptions .badge", "els => els.map(e => e.innerText.trim())"))
    assert titles <= {"Kein Lieferant", "Lieferant inaktiv", "Lieferantenartikel heute nicht gültig", "Kein Preis",
                      "Budgetstopp", "Wartet auf Prüfung"}, titles  # fmt: skip
    summaries = page.eval_on_selector_all("#spend summary", "els => els.map(e => e.innerText)")
    assert summaries and all(s.endswith(": die Zahlen") for s in summaries), summaries
    _shot(page, "de-po-queue-view-text")


def test_nurse_locates_in_german_on_a_phone(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("nurse", phone=True, locale="de-DE")
    page.goto(people_demo.base_url + "/tracking/?q=pump")
    page.click("#menu-toggle")  # on a phone the language menu sits in the collapsed menu
    _to_german(page)
    assert page.inner_text("h1") == "Geräte orten"
    statuses = set(page.eval_on_selector_all("#results td.status", "els => els.map(e => e.innerText.trim())"))
    assert statuses and statuses <= {"Sauber", "Verschmutzt", "In Benutzung", "Wartung"}, statuses
    page.click("#menu-toggle")
    assert page.is_visible("#site-nav a:has-text('Orten')")
    page.click("#menu-toggle")
    _shot(page, "de-phone-locate")
    page.click("#menu-toggle")
    page.select_option("#language", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")


def test_spanish_from_the_browser_language(browser: Any, people_demo: DemoContext) -> None:
    context = browser.new_context(locale="es-ES", extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"})
    page = context.new_page()
    page.goto(people_demo.base_url + "/login")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == "Iniciar sesión"
    _shot(page, "es-login")
    context.close()


def test_kiosk_in_german_with_the_scripts_own_words(login_as: Callable[..., Any], people_demo: DemoContext) -> None:
    page = login_as("restocker")
    page.goto(people_demo.base_url + "/kiosk/LOCKER-1")
    _to_german_cookie(page, people_demo)
    page.goto(people_demo.base_url + "/kiosk/LOCKER-1")
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.inner_text("#signin-heading") == "Ausweis vorhalten"
    assert page.inner_text("#show-pin") == "ID + PIN verwenden"
    page.keyboard.type(badge_of(3))
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-items:not([hidden])")
    assert page.inner_text("#items-heading") == "Artikel wählen"
    stock = page.eval_on_selector_all(".k-stock", "els => els.map(e => e.innerText)")
    assert stock and all(s.startswith("noch ") or s in ("leer", "außer Betrieb") for s in stock), stock
    _shot(page, "de-kiosk-items")
    page.click("[data-tab=tools]")
    assert page.inner_text("#items-heading") == "Werkzeuge"  # the heading follows the tab, in the kiosk's language
    page.click("[data-tab=grid]")
    assert page.inner_text("#items-heading") == "Artikel wählen"
    page.click("#logout")
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.inner_text("#message") == "Abgemeldet."


def test_stored_line_reasons_and_alert_messages_read_in_german(
    login_as: Callable[..., Any], people_demo: DemoContext
) -> None:
    """Reasons and messages the code wrote into the database in no language are shown in the reader's."""
    page = login_as("approver")
    po_url = resolve(page, people_demo.base_url, "po")  # the demo's orders come from replenishment, with reasons
    page.goto(po_url)
    _to_german(page)
    cells = page.eval_on_selector_all("td.reason", "els => els.map(e => e.innerText)")
    reasons = [r.strip() for r in cells if r.strip()]
    assert reasons, "the order shows no line reason"
    german = ("disponibler Bestand", "Gerätemangel", "von Hand hinzugefügt")
    assert all(any(word in r for word in german) for r in reasons), reasons
    assert not any(r.startswith(("position ", "equipment shortfall", "added by hand")) for r in reasons), reasons
    _shot(page, "de-po-line-reasons")
    _to_english(page)

    factory = people_demo.services.session_factory
    with unit_of_work(factory) as s:
        gateway = s.scalars(select(Gateway).order_by(Gateway.id)).first()
        assert gateway is not None
        gateway_id = gateway.gateway_id
        at = people_demo.services.clock.now().timestamp()
        offline = GatewayChange(gateway_id, False, Note.of(N_("reported offline")), at)
        recording.record_gateway_changes(s, [offline], {})
    admin = login_as("admin", locale="de-DE")
    try:
        admin.goto(people_demo.base_url + "/tracking/alerts")
        _to_german(admin)
        text = admin.inner_text("main")
        assert f"Gateway {gateway_id}" in text
        assert "meldet sich offline: Tags dort können als unbekannt erscheinen" in text
        assert "tags there may show as unknown" not in text
        _shot(admin, "de-alert-message")
        _to_english(admin)
    finally:
        with unit_of_work(factory) as s:
            back = Note.of(N_("heard again"))
            recording.clear_alert(s, "gateway_down", gateway_id, people_demo.services.clock.now(), back)


def _to_german_cookie(page: Any, demo: DemoContext) -> None:
    """The kiosk has no menu bar: set the browser's language as the language menu would."""
    page.context.add_cookies([{"name": "vendtrack_lang", "value": "de", "url": demo.base_url}])
