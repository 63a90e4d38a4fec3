"""The MQTT route table: filters, wildcard values, refusals, and a format registered from outside."""

from __future__ import annotations

import pytest

from tracking.observation import Observation
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.routes import GatewayState, Route, RouteTable, Wildcards, standard_routes


def _seen(wildcards: Wildcards, payload: bytes, now: float) -> Observation:
    return Observation(wildcards[0], f"mac-{wildcards[1].lower()}", int(payload), None, None, None, now)


def test_match_gives_the_wildcard_values_in_order() -> None:
    table = RouteTable([Route("home/+/BTtoMQTT/+", _seen, "theengs", tag_wildcard=1)], prefix="site1/")
    found = table.match("site1/home/gw-7/BTtoMQTT/AABBCC")
    assert found is not None and found[1] == ("gw-7", "AABBCC")
    assert table.match("home/gw-7/BTtoMQTT/AABBCC") is None  # outside the prefix
    assert table.match("site1/home/gw-7/BTtoMQTT") is None
    assert table.match("site1/home//BTtoMQTT/x") is None  # an empty level is not a value
    assert table.filters() == ["site1/home/+/BTtoMQTT/+"]


def test_hash_takes_the_rest_of_the_topic() -> None:
    table = RouteTable([Route("ingics/#", _seen, "ingics")])
    found = table.match("ingics/a/b")
    assert found is not None and found[1] == ("a/b",)


@pytest.mark.parametrize("bad", ["", "a/+x/b", "a/#/b", "a/b#"])
def test_a_bad_filter_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Route(bad, _seen, "bad")


def test_tag_wildcard_must_exist_and_filters_are_unique() -> None:
    with pytest.raises(ValueError, match="tag_wildcard"):
        Route("a/+", _seen, "x", tag_wildcard=1)
    table = RouteTable([Route("a/+", _seen, "x")])
    with pytest.raises(ValueError, match="already routed"):
        table.add(Route("a/+", _seen, "y"))


def test_standard_routes_hold_espresense() -> None:
    table = standard_routes()
    device = table.match("espresense/devices/iBeacon:x/kitchen")
    status = table.match("espresense/rooms/kitchen/status")
    assert device is not None and device[0].tag_wildcard == 0
    assert (
        status is not None
        and status[0].broadcast
        and status[0].parser((("kitchen",)), b"offline", 0.0) == (GatewayState("kitchen", False))
    )


def test_a_consumer_feeds_a_registered_format() -> None:
    got: list[Observation] = []
    status: list[tuple[str, bool]] = []
    routes = RouteTable([Route("home/+/BTtoMQTT/+", _seen, "theengs", tag_wildcard=1)])
    consumer = MqttConsumer(got.extend, lambda g, o: status.append((g, o)), routes=routes, clock=lambda: 5.0)
    consumer.handle("home/gw-1/BTtoMQTT/AABB", b"-61")
    consumer.handle("home/gw-1/BTtoMQTT/AABB", b"loud")  # the parser raises: counted, and the next one goes on
    consumer.handle("espresense/rooms/kitchen/status", b"online")  # not routed by this table
    assert got == [Observation("gw-1", "mac-aabb", -61, None, None, None, 5.0)]
    assert consumer.unknown_topic == 1 and status == []
    assert consumer.counters["error:ValueError"] == 1
