"""Hostile payloads at the gateway format parsers (seeded hypothesis; a failure prints `@reproduce_failure`):
nothing but `Rejected` ever leaves a parser, every refusal is a known `field:reason`, and a good record mixed in
with hostile ones still arrives."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from firmware_bridge.ble.telemetry import TelemetryMatcher
from tests.tracking.conftest import advert_hex, tag_key
from tracking.sources import ingics, minew, theengs
from tracking.sources.formats import FormatContext, Outcome
from tracking.sources.limits import Reason, Rejected
from tracking.sources.routes import standard_routes

NOW = datetime(2026, 3, 2, 10, 0).timestamp()
REASONS = {r.value for r in Reason}
numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e400, 500, -500, 2**63, 0.5, True, False, 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(),
)  # fmt: skip
strings = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("0123456789abcdefABCDEF:,$-.\x00\n\r"), max_size=60),
    st.sampled_from(["x" * 100_000, "AC:23:3F:A0:31:FA", "AC233FA031FA", "0xfeaa", "IBEACON", "Gateway", "iBeacon",
                     "$GPRP", "$HBRP,a", "4c000215", ""]),
)  # fmt: skip
leaves = st.one_of(st.none(), st.booleans(), numbers, strings)
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=8)  # fmt: skip
THEENGS_KEYS = ["id", "mac", "rssi", "manufacturerdata", "servicedata", "servicedatauuid", "model_id", "uuid",
                "major", "minor", "txpower"]  # fmt: skip
MINEW_KEYS = ["type", "mac", "rssi", "rawData", "timestamp", "ibeaconUuid", "ibeaconMajor", "ibeaconMinor",
              "ibeaconTxPower"]  # fmt: skip


TABLE = standard_routes()


def _context() -> FormatContext:
    return FormatContext(NOW, TelemetryMatcher())


def _known(outcome: Outcome) -> None:
    for error in outcome.rejected:
        assert error.reason.value in REASONS and error.field


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value)
    except ValueError:  # an integer json refuses to print
        return "[]"


@seed(17)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(THEENGS_KEYS), values, max_size=6), st.sampled_from(["bt", "lwt", "sys"]))
def test_theengs_refuses_with_a_reason_and_never_crashes(message: dict[str, Any], topic: str) -> None:
    payload = _dumps(message)
    parse = {
        "bt": lambda: theengs.parse_bt_message("icu-1", payload, _context()),
        "lwt": lambda: theengs.parse_lwt("icu-1", payload),
        "sys": lambda: theengs.parse_system("icu-1", payload),
    }
    try:
        _known(parse[topic]())
    except Rejected as exc:
        assert exc.reason.value in REASONS


@seed(17)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(values, st.dictionaries(st.sampled_from(MINEW_KEYS), values, max_size=6)), max_size=5))
def test_minew_keeps_the_good_record_among_hostile_ones(records: list[Any]) -> None:
    good = {"type": "Unknown", "mac": "AC233FA00001", "rssi": -60, "rawData": advert_hex(1)}
    body = minew.load_body(_dumps([*records, good]))
    outcome = minew.parse_upload(body, "gw-a", _context())
    _known(outcome)
    assert tag_key(1) in [o.tag_key for o in outcome.observations]


@seed(17)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(strings, st.builds(",".join, st.lists(strings, max_size=7))), max_size=5),
       st.booleans())  # fmt: skip
def test_ingics_keeps_the_good_line_among_hostile_ones(lines: list[str], as_json: bool) -> None:
    good = f"$GPRP,AC233FA00001,F008D1798C60,-58,{advert_hex(1)}"
    clean = [line.replace("\r", "").replace("\n", "") for line in lines]
    body = json.dumps({"data": [*lines, good]}) if as_json else "\r\n".join([*clean, good])
    try:
        outcome = ingics.parse_report(ingics.load_lines(body), "gw-x", _context())
    except Rejected as exc:
        assert exc.field == "body" and exc.reason.value in REASONS
        return
    _known(outcome)
    assert tag_key(1) in [o.tag_key for o in outcome.observations]


@seed(17)
@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("home/+#BTtoMQTTLWTingicsSYS"), max_size=12), max_size=5),
       st.binary(max_size=200))  # fmt: skip
def test_route_table_answers_any_topic(parts: list[str], payload: bytes) -> None:
    found = TABLE.match("/".join(parts))
    if found is None:
        return
    route, wildcards = found
    try:
        route.parser(wildcards, payload, NOW)
    except Rejected as exc:
        assert exc.reason.value in REASONS
