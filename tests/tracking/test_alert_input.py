"""Hostile input at the alert endpoints: wrong types, NaN, 1e400, NUL bytes, 100k characters, past and far-future
times, unknown actions and ids past the column's range are each a 4xx naming the field, never a 500; a role an
alert is not routed to cannot see or work it; every change is audited."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import unit_of_work
from core.models import Site
from core.notes import Note
from core.roles import Role
from core.users import create_user
from tests.conftest import csrf_from, login
from tests.tracking.conftest import seed_floor
from tracking.alerts import raise_alert
from tracking.models import TrackingAlert


def _alerts(app: Flask) -> dict[str, int]:
    services = app.extensions["vendtrack"]
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        seed_floor(session)
        create_user(session, "nina", "anin-password", [Role.STAFF])
        create_user(session, "ada", "ada-password", [Role.ADMIN])
        raise_alert(session, "zone_exit", "A-1", Note.typed("Infusion pump 1 (A-1) entered exit zone Exit"), now)
        raise_alert(session, "gateway_down", "gw-x", Note.typed("Gateway gw-x in Exit silent for over 10 s"), now)
    with services.session_factory() as session:
        return {a.kind: a.id for a in session.scalars(select(TrackingAlert))}


def _post(client: FlaskClient, url: str, data: dict[str, str]) -> tuple[int, str]:
    token = csrf_from(client.get("/tracking/alerts").get_data(as_text=True))
    response = client.post(url, data={**data, "csrf_token": token})
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("action", "data", "field_text"),
    [
        ("assign", {"assignee_id": "abc"}, "assignee_id must be a whole number"),
        ("assign", {"assignee_id": "1e400"}, "assignee_id must be a whole number"),
        ("assign", {"assignee_id": "NaN"}, "assignee_id must be a whole number"),
        ("assign", {"assignee_id": "\x00"}, "contains a NUL character"),
        ("assign", {"assignee_id": "99999999999999999999999"}, "does not exist or is inactive"),
        ("snooze", {"minutes": "NaN"}, "minutes must be a whole number"),
        ("snooze", {"minutes": "7"}, "pick a snooze duration from the list"),
        ("snooze", {"until": "9999-99-99T99:99"}, "give the time as YYYY-MM-DD HH:MM"),
        ("snooze", {"until": "2020-01-01T00:00"}, "has already passed"),
        ("snooze", {"until": "2999-01-01T00:00"}, "at most 7 days"),
        ("resolve", {"note": ""}, "write what was done"),
        ("resolve", {"note": "ok\x00"}, "contains a NUL character"),
        ("resolve", {"note": "x" * 100_000}, "plain text of at most 2000 characters"),
    ],
)
def test_bad_form_values_are_refused_with_the_field_and_the_fix(
    app: Flask, client: FlaskClient, action: str, data: dict[str, str], field_text: str
) -> None:
    ids = _alerts(app)
    login(client, "nina", "anin-password")
    status, page = _post(client, f"/tracking/alerts/{ids['zone_exit']}/{action}", data)
    assert status == 422, (status, page[:300])
    error = re.search(r'id="error">([^<]*)<', page)
    assert field_text in (error.group(1) if error else page), (error, page[-600:])  # the view's or the input layer's
    with app.extensions["vendtrack"].session_factory() as session:
        assert session.get(TrackingAlert, ids["zone_exit"]).status == "open"  # type: ignore[union-attr]


def test_unknown_actions_ids_and_roles_are_refused(app: Flask, client: FlaskClient) -> None:
    ids = _alerts(app)
    login(client, "nina", "anin-password")
    assert _post(client, f"/tracking/alerts/{ids['zone_exit']}/frobnicate", {})[0] == 404
    assert client.get("/tracking/alerts/99999999999999999999999").status_code == 404
    assert _post(client, "/tracking/alerts/99999999999999999999999/acknowledge", {})[0] == 404
    assert client.get(f"/tracking/alerts/{ids['gateway_down']}").status_code == 404  # not routed to staff
    assert _post(client, f"/tracking/alerts/{ids['gateway_down']}/acknowledge", {})[0] == 403
    assert client.get("/tracking/alerts/routing").status_code == 403
    assert client.get("/tracking/alerts?show=%00").status_code == 422  # a NUL is refused by the input layer
    assert client.get("/tracking/assets/99999999999999999999999").status_code == 404
    token = csrf_from(client.get("/tracking/alerts").get_data(as_text=True))
    no_token = client.post(f"/tracking/alerts/{ids['zone_exit']}/acknowledge", data={})
    assert no_token.status_code == 400 and token


def test_each_action_is_audited_and_a_finished_alert_cannot_move(app: Flask, client: FlaskClient) -> None:
    ids = _alerts(app)
    login(client, "nina", "anin-password")
    url = f"/tracking/alerts/{ids['zone_exit']}"
    assert _post(client, f"{url}/acknowledge", {})[0] == 302
    assert _post(client, f"{url}/acknowledge", {})[0] == 409  # acknowledged cannot be acknowledged again
    assert _post(client, f"{url}/resolve", {"note": "Taken back to Room A"})[0] == 302
    status, page = _post(client, f"{url}/snooze", {"minutes": "15"})
    assert status == 409 and "cannot go from resolved to snoozed" in page
    with app.extensions["vendtrack"].session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "tracking_alert",
                                            AuditEntry.entity_id == str(ids["zone_exit"])).order_by(AuditEntry.id)
        ).all()  # fmt: skip
    assert actions == ["alert.raise", "alert.acknowledge", "alert.resolve"]


def test_routing_form_refuses_unknown_roles_and_sites(app: Flask, client: FlaskClient) -> None:
    _alerts(app)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        session.add(Site(code="H1", name="General hospital"))
    login(client, "ada", "ada-password")
    page = client.get("/tracking/alerts/routing").get_data(as_text=True)
    token = csrf_from(page)
    site = re.search(r'name="site" value="(\d+)"', page)
    assert site
    bad_role = client.post("/tracking/alerts/routing", data={"csrf_token": token, "site": site.group(1),
                                                            "gateway_down": "root\x00"})  # fmt: skip
    assert bad_role.status_code == 422 and "NUL character" in bad_role.get_data(as_text=True)
    bad_site = client.post("/tracking/alerts/routing", data={"csrf_token": token, "site": "1e400"})
    assert bad_site.status_code == 422 and "site must be a whole number" in bad_site.get_data(as_text=True)
    assert client.get("/tracking/alerts/routing?site=99999999999999999999").status_code == 404
    ok = client.post("/tracking/alerts/routing", data={"csrf_token": token, "site": site.group(1), "missing": "admin"})
    assert ok.status_code == 302
    with app.extensions["vendtrack"].session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert_routing.update")).one()
    assert '"missing": ["admin"]' in entry.after_json and '"missing": ["staff"]' in entry.before_json


def test_a_german_nurse_reads_refusals_and_results_in_german(app: Flask, client: FlaskClient) -> None:
    ids = _alerts(app)
    login(client, "nina", "anin-password")
    client.set_cookie("vendtrack_lang", "de")
    url = f"/tracking/alerts/{ids['zone_exit']}"
    status, page = _post(client, f"{url}/snooze", {"until": "2999-01-01T00:00"})
    error = re.search(r'id="error">([^<]*)<', page)
    assert status == 422 and error is not None
    assert error.group(1) == "stellen Sie höchstens 7 Tage zurück; erledigen Sie den Alarm, wenn nichts mehr zu tun ist"
    status, page = _post(client, f"{url}/resolve", {"note": ""})
    assert status == 422 and "schreiben Sie, was getan wurde (die Notiz bleibt im Verlauf des Alarms)" in page
    token = csrf_from(client.get("/tracking/alerts").get_data(as_text=True))
    done = client.post(f"{url}/acknowledge", data={"csrf_token": token}, follow_redirects=True)
    assert '<p class="flash info" role="status">Bestätigt.</p>' in done.get_data(as_text=True)
    token = csrf_from(client.get("/tracking/alerts").get_data(as_text=True))
    done = client.post(f"{url}/snooze", data={"csrf_token": token, "minutes": "15"}, follow_redirects=True)
    snoozed = r'role="status">Zurückgestellt bis \d{4}-\d\d-\d\d \d\d:\d\d UTC\.</p>'
    assert re.search(snoozed, done.get_data(as_text=True))
    history = client.get(url).get_data(as_text=True)  # the history reads in German too, from the same audit entries
    assert "nina hat ihn bestätigt." in history and "nina hat ihn bis " in history
