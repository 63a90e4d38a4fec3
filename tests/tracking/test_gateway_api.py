"""The Minew and Ingics upload endpoints through the Flask test client: tokens, registration, per-record refusals,
and the gateways' heartbeat records keeping them off the "gateway down" list."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.tracking.conftest import advert_hex, seed_floor, tag_key
from tracking.models import Gateway
from tracking.pipeline import pipeline_for
from tracking.sources import ingics, minew


def _tokens(app: Flask) -> dict[str, str]:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        gateway, _ = create_token(session, "gw", [TokenScope.GATEWAY])
        reader, _ = create_token(session, "reader", [TokenScope.READ])
    return {"gateway": f"Bearer {gateway}", "read": f"Bearer {reader}"}


def _post(client: FlaskClient, path: str, token: str, body: str | bytes, kind: str = "application/json") -> Any:
    return client.post(path, data=body, headers={"Authorization": token, "Content-Type": kind})


def test_minew_upload_keeps_good_records_and_names_bad_ones(app: Flask, client: FlaskClient) -> None:
    tokens = _tokens(app)
    body = [
        {"timestamp": "2019-08-01T05:54:25Z", "type": "Gateway", "mac": "AC233FC001EA", "gatewayFree": 98},
        {"type": "Unknown", "mac": "AC233FA00001", "bleName": "", "rssi": -60, "rawData": advert_hex(1)},
        {"type": "Unknown", "mac": "AC233FA00002", "bleName": "", "rssi": -60, "rawData": ""},
        {"type": "Unknown", "mac": "AC233FA00003", "rssi": "loud", "rawData": advert_hex(2)},
    ]
    response = _post(client, "/api/v1/gateways/gw-a/minew", tokens["gateway"], json.dumps(body))
    assert response.status_code == 200, response.get_data(as_text=True)
    reply = response.get_json()
    assert (reply["accepted"], reply["ignored"], reply["heartbeat"]) == (1, 1, True)
    assert [(r["index"], r["field"]) for r in reply["rejected"]] == [(3, "rssi")]
    pipeline = pipeline_for(app.extensions["vendtrack"])
    assert not pipeline.engine.knows(tag_key(1))  # waiting in the inbox for the engine's flush
    pipeline.flush()
    assert pipeline.engine.knows(tag_key(1))


def test_ingics_lines_as_text_and_as_json(app: Flask, client: FlaskClient) -> None:
    tokens = _tokens(app)
    lines = f"$GPRP,AC233FA00001,F008D1798C60,-58,{advert_hex(1)}\r\n$HBRP,F008D1798C60,F008D1798C60,-127,00000000\r\n"
    response = _post(client, "/api/v1/gateways/gw-b/ingics", tokens["gateway"], lines, "text/plain")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.get_json()["accepted"], response.get_json()["heartbeat"]) == (1, True)
    body = json.dumps({"data": [f"$GPRP,AC233FA00002,F008D1798C60,-61,{advert_hex(2)}"]})
    response = _post(client, "/api/v1/gateways/gw-b/ingics", tokens["gateway"], body)
    assert response.get_json()["accepted"] == 1


def test_heartbeat_records_keep_a_quiet_gateway_up(app: Flask, client: FlaskClient) -> None:
    """gw-a hears no tag but sends Minew's Gateway record, gw-x sends Ingics' $HBRP; gw-b sends nothing."""
    tokens = _tokens(app)
    pipeline = pipeline_for(app.extensions["vendtrack"])
    gateway_only = json.dumps([{"type": "Gateway", "mac": "AC233FC001EA", "gatewayFree": 98, "gatewayLoad": 0.05}])
    assert _post(client, "/api/v1/gateways/gw-a/minew", tokens["gateway"], gateway_only).status_code == 200
    heartbeat = "$HBRP,F008D1798C60,F008D1798C60,-127,00000000"
    assert _post(client, "/api/v1/gateways/gw-x/ingics", tokens["gateway"], heartbeat, "text/plain").status_code == 200
    pipeline.flush()
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        status = {gid: state for gid, state in session.execute(select(Gateway.gateway_id, Gateway.status))}
    assert status == {"gw-a": "up", "gw-b": "down", "gw-x": "up"}


def test_refusals(app: Flask, client: FlaskClient) -> None:
    tokens = _tokens(app)
    minew_path, ingics_path = "/api/v1/gateways/gw-a/minew", "/api/v1/gateways/gw-a/ingics"
    assert _post(client, minew_path, tokens["read"], "[]").status_code == 403
    response = _post(client, "/api/v1/gateways/gw-nowhere/minew", tokens["gateway"], "[]")
    assert response.status_code == 404 and "register" in response.get_json()["error"]["message"]
    response = _post(client, minew_path, tokens["gateway"], '{"adverts": []}')
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "body"
    response = _post(client, minew_path, tokens["gateway"], "[" * 100 + "]" * 100)
    assert response.status_code == 422 and "nested" in response.get_json()["error"]["message"]
    response = _post(client, minew_path, tokens["gateway"], b"x" * (minew.MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    response = _post(client, minew_path, tokens["gateway"], '[{"mac": "nope", "rssi": -60}]')
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "records[0].mac"
    response = _post(client, ingics_path, tokens["gateway"], "$GPRP,XX,YY,-1,00", "text/plain")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "records[0].tag_mac"
    response = _post(client, ingics_path, tokens["gateway"], b"\xff\xfe", "text/plain")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "body"
    lines = "\n".join(["$HBRP,F008D1798C60,F008D1798C60,-127,00000000"] * (ingics.MAX_LINES + 1))
    assert _post(client, ingics_path, tokens["gateway"], lines, "text/plain").status_code == 413
    counted = pipeline_for(app.extensions["vendtrack"]).http_stats.counters()
    assert counted["rejected:body:too_large"] == 2 and counted["rejected:gateway_id:unknown"] == 1
