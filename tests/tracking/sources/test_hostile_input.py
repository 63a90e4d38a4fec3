"""Hostile values at the ESPresense parser, the MQTT consumer's message handling and the gateway batch endpoint.

Seeded hypothesis runs (a failure prints the example and `@reproduce_failure`): no exception other than
`Rejected` leaves the parser, the consumer never raises, the endpoint never answers 500, and the good
messages mixed in with the bad ones all arrive.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from core.db import unit_of_work
from core.roles import TokenScope
from core.users import create_token
from tests.tracking.conftest import UUID, advert_hex, seed_floor
from tracking.observation import Observation
from tracking.sources import limits
from tracking.sources.espresense import parse_device_message
from tracking.sources.limits import Rejected
from tracking.sources.mqtt import MqttConsumer

DEVICE = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-{}"
TOPIC = "espresense/devices/{}/icu-1"

huge_ints = st.integers(min_value=0, max_value=4000).map(lambda e: 10**e)  # json.dumps stops at 4300 digits
hostile_numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e400, -1e400, 500, -500, 2**63, -(2**63), 0.5, True, False]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    huge_ints,
)
hostile_strings = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.sampled_from("\x00\x01\n\r\x7f\x9fa-:"), max_size=20),
    st.sampled_from(["x" * 100_000, DEVICE.format("x-2").replace("-1-x", "-x"), "iBeacon:--------", "", "\x00"]),
)
leaves = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_strings)
hostile_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
FIELDS = ["id", "rssi", "rssi@1m", "mV", "batt", "distance"]


def _good(minor: int, rssi: int = -70) -> dict[str, Any]:
    return {"id": DEVICE.format(minor), "rssi": rssi, "rssi@1m": -59, "mV": 2950, "batt": 90, "distance": 2.0}


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "bytes", "deep", "not_object"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.sampled_from([9, 100, 10_000, 100_000]))
        return ('{"id": "a", "rssi": ' + _deep(depth) + "}").encode()
    if kind == "not_object":
        return json.dumps(draw(hostile_values), allow_nan=True).encode()
    message = _good(draw(st.integers(1, 50)))
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        message[field] = draw(hostile_values)
    return json.dumps(message, allow_nan=True).encode()


def _within_limits(obs: Observation) -> None:
    assert limits.RSSI.contains(obs.rssi) and isinstance(obs.rssi, int)
    assert obs.ref_power is None or limits.REF_POWER.contains(obs.ref_power)
    assert obs.battery_mv is None or limits.BATTERY_MV.contains(obs.battery_mv)
    assert len(obs.tag_key) <= 100 and "\x00" not in obs.tag_key


@seed(20261206)
@settings(max_examples=400, deadline=None)
@given(payload=hostile_payloads())
def test_espresense_parser_returns_an_observation_in_range_or_rejects(payload: bytes) -> None:
    try:
        obs = parse_device_message("icu-1", payload, 1_000.0)
    except Rejected as exc:
        assert exc.field and exc.message and ":" in exc.key
        return
    _within_limits(obs)


@seed(20261207)
@settings(max_examples=150, deadline=None)
@given(bad=st.lists(hostile_payloads(), min_size=1, max_size=6), topics=st.lists(hostile_strings, max_size=3))
def test_a_stream_with_hostile_messages_loses_only_them(bad: list[bytes], topics: list[str]) -> None:
    heard: list[Observation] = []
    consumer = MqttConsumer(heard.extend, lambda *_: None, prefix="", group=None)
    goods = 0
    for index, payload in enumerate(bad):
        consumer.handle(TOPIC.format(DEVICE.format(index)), json.dumps(_good(index + 1)).encode())
        goods += 1
        consumer.handle(TOPIC.format(DEVICE.format(index)), payload)
    for topic in topics:  # hostile topics: room names with NUL, 100k characters, nothing at all
        consumer.handle(f"espresense/devices/x/{topic}", json.dumps(_good(1)).encode())
        consumer.handle(f"espresense/rooms/{topic}/status", b"online")
        consumer.handle(f"vendtrack/adverts/{topic}", b'{"adverts": []}')
    consumer.handle(TOPIC.format("last"), json.dumps(_good(99)).encode())
    goods += 1
    good_keys = {f"ib-{UUID}-1-{m}" for m in [*range(1, len(bad) + 1), 99]}
    assert len([o for o in heard if o.gateway_id == "icu-1" and o.rssi == -70 and o.tag_key in good_keys]) >= goods
    for obs in heard:
        _within_limits(obs)


def test_the_reported_messages_are_counted_rejections_not_crashes() -> None:
    heard: list[Observation] = []
    consumer = MqttConsumer(heard.extend, lambda *_: None, prefix="", group=None)
    cases: dict[str, list[Any]] = {
        "rssi:not_finite": [{"rssi": "NaN"}, {"rssi": "Infinity"}, {"rssi": "1e400"}],
        "rssi@1m:not_finite": [{"rssi@1m": "NaN"}, {"rssi@1m": "-Infinity"}],
        "mV:not_finite": [{"mV": "NaN"}, {"mV": "1e400"}],
        "rssi:out_of_range": [{"rssi": "500"}],
        "payload:too_large": [100_000],  # 100k-deep JSON is 200 kB: refused by size before any parsing
        "payload:too_deep": [1_000, 9],
    }
    for key, variants in cases.items():
        for variant in variants:
            if isinstance(variant, int):
                raw = '{"id": "a", "rssi": ' + _deep(variant) + "}"
            else:
                field, literal = next(iter(variant.items()))
                raw = json.dumps(_good(5)).replace(f'"{field}": {_good(5)[field]}', f'"{field}": {literal}')
                assert literal in raw
            consumer.handle(TOPIC.format("x"), raw.encode())
        assert consumer.stats.rejected[key] == len(variants), (key, consumer.stats.rejected)
    odd = _good(5) | {"id": "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-x-2"}
    consumer.handle(TOPIC.format("x"), json.dumps(odd).encode())  # not a number: kept as a tag of its own
    consumer.handle(TOPIC.format("x"), json.dumps(_good(6)).encode())
    assert [o.tag_key for o in heard] == [f"esp-{odd['id'].lower()}", f"ib-{UUID}-1-6"]


# ---- the gateway batch endpoint -------------------------------------------------------------------


def _gateway(app: Flask) -> str:
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        seed_floor(session)
        token, _ = create_token(session, "gw", [TokenScope.GATEWAY])
    return f"Bearer {token}"


def _good_advert(minor: int) -> dict[str, Any]:
    return {"address": f"AA:00:00:00:00:{minor:02X}", "rssi": -60, "data": advert_hex(minor)}


@st.composite
def hostile_adverts(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(hostile_values)
    advert: dict[str, Any] = _good_advert(draw(st.integers(1, 200)))
    fields = ["address", "rssi", "data", "at"]
    for field in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
        advert[field] = draw(
            st.one_of(hostile_values, st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-01"]))
        )
    return advert


@seed(20261208)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(hostile_adverts(), min_size=1, max_size=5), goods=st.integers(0, 3))
def test_gateway_batch_never_500_and_keeps_the_good_adverts(
    app: Flask, client: FlaskClient, bad: list[Any], goods: int
) -> None:
    token = app.config.setdefault("_test_token", None) or _gateway(app)
    app.config["_test_token"] = token
    adverts = [_good_advert(minor) for minor in range(1, goods + 1)] + bad
    body = json.dumps({"adverts": adverts}, allow_nan=True)
    response = client.post(
        "/api/v1/gateways/gw-a/adverts", data=body, content_type="application/json", headers={"Authorization": token}
    )
    assert response.status_code in (200, 413, 422), response.get_data(as_text=True)[:300]
    answer = response.get_json()
    if response.status_code == 200:
        assert answer["accepted"] >= goods
        assert all(r["field"] and r["message"] for r in answer["rejected"])
    else:
        assert goods == 0 and answer["error"]["field"] and answer["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (_deep(100_000), 422, "body"),
        ('{"adverts": ' + _deep(50) + "}", 422, "body"),
        ("{" * 100_000, 422, "body"),
        ('{"adverts": [' + ",".join(['{"address":"' + "A" * 500 + '"}'] * 2000) + "]}", 413, "body"),
        ('{"adverts": "' + "x" * 100 + '"}', 422, "adverts"),
        ("[1, 2]", 422, "adverts"),
        ("NaN", 422, "adverts"),
        ("\x00\x01", 422, "body"),
        ('{"adverts": [{"address": "AA", "rssi": NaN, "data": "00"}]}', 422, "adverts[0].rssi"),
        ('{"adverts": [{"address": "AA", "rssi": 1e400, "data": "00"}]}', 422, "adverts[0].rssi"),
        ('{"adverts": [{"address": "AA", "rssi": 500, "data": "00"}]}', 422, "adverts[0].rssi"),
        ('{"adverts": [{"address": "A\\u0000A", "rssi": -60, "data": "00"}]}', 422, "adverts[0].address"),
        (
            '{"adverts": [{"address": "AA", "rssi": -60, "data": "'
            + advert_hex(1)
            + '", "at": "9999-12-31T00:00:00Z"}]}',
            422,
            "adverts[0].at",
        ),
        ('{"adverts": [{"address": "AA", "rssi": ' + "9" * 5000 + "}]}", 422, "body"),
    ],
)
def test_gateway_batch_errors_are_4xx_naming_the_field(app: Flask, client: FlaskClient, body: str, status: int,
                                                       field: str) -> None:  # fmt: skip
    token = _gateway(app)
    response = client.post(
        "/api/v1/gateways/gw-a/adverts", data=body, content_type="application/json", headers={"Authorization": token}
    )
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["field"] == field and error["message"]
    assert error["code"] == ("too_large" if status == 413 else "invalid")
    assert "sys.set_int_max_str_digits" not in error["message"]  # Python's advice to programmers is not for gateways


def test_hostile_gateway_ids_in_the_url_are_refused(app: Flask, client: FlaskClient) -> None:
    token = _gateway(app)
    for gateway_id, field in (("gw%00a", "gateway_id"), ("g" * 1000, "gateway_id")):
        response = client.post(f"/api/v1/gateways/{gateway_id}/adverts", json={"adverts": []},
                               headers={"Authorization": token})  # fmt: skip
        assert response.status_code == 422 and response.get_json()["error"]["field"] == field
